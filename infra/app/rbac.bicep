// The app identity's data-plane roles in its own resource group, as Microsoft's Flex Consumption
// templates grant them (Azure-Samples/durable-functions-quickstart-python-azd infra/app/rbac.bicep):
// the host storage (blob for the deployment package, keys and timer state; queue and table for
// the Azure Storage task hub) and Application Insights (Entra-authenticated telemetry); and the
// report container (issue 14).
param storageAccountName string
param applicationInsightsName string
param appPrincipalId string

@description('The task hub lives in this storage account (Azure Storage backend): grant queues and tables too.')
param azureStorageTaskHub bool

@description('The report container in this storage account (REPORT_CONTAINER_URL); empty when the report container is elsewhere (then grant the identity Storage Blob Data Contributor on it yourself).')
param reportContainerName string

// Built-in role ids (Azure built-in roles reference).
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource reportContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = if (!empty(reportContainerName)) {
  parent: blobService
  name: reportContainerName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Blob Data Owner, not Contributor: what the host needs on AzureWebJobsStorage with an identity
// (Microsoft's templates and the AVM site module's note on storageAccountUseIdentityAuthentication).
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, appPrincipalId, storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (azureStorageTaskHub) {
  name: guid(storageAccount.id, appPrincipalId, storageQueueDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (azureStorageTaskHub) {
  name: guid(storageAccount.id, appPrincipalId, storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The report files (REPORT_CONTAINER_URL: {runId}/report.json, servers.csv, report.html), written
// with the identity. Blob Data Owner on the account covers it today; this names the need on the
// container itself, so narrowing the host's role later does not take the reports with it.
resource reportWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(reportContainerName)) {
  name: guid(storageAccount.id, reportContainerName, appPrincipalId, storageBlobDataContributor)
  scope: reportContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
