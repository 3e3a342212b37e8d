// What the app identity needs on one target storage account for an export run that names
// `target.containers` (blob container URLs, no SAS): the submit activity mints a user-delegation
// SAS for those containers with the identity, per export (issue 14; mysqlexport/storage.py).
//
// * Storage Blob Delegator: the one action a user delegation key needs,
//   Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action, at the
//   account (Microsoft Learn, "Create a user delegation SAS", Assign permissions with RBAC).
// * Storage Blob Data Contributor: "The permissions granted by a user delegation SAS are the
//   intersection of the permissions granted by the SAS token and the RBAC permissions granted to
//   the security principal that requested the user delegation key" (same page, and "Grant
//   limited access to data with shared access signatures"): a SAS the service writes backup
//   files through needs a data role that can write (and create, list) blobs. Contributor, not
//   Owner: no ACL or ownership changes.
//
// Scoped to the account: a request may name any of its containers. Deployed in the account's own
// subscription and resource group (a module scoped there by main.bicep, like the export role).
targetScope = 'resourceGroup'

param storageAccountName string
param principalId string

// Built-in role ids (Azure built-in roles reference, Storage).
var storageBlobDelegator = 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource targetAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource delegator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(targetAccount.id, principalId, storageBlobDelegator)
  scope: targetAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDelegator)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mysql-fleet-export: user delegation keys for the per-export SAS of target.containers'
  }
}

resource dataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(targetAccount.id, principalId, storageBlobDataContributor)
  scope: targetAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mysql-fleet-export: the write permissions a user-delegation SAS of target.containers can pass on'
  }
}
