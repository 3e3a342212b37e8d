// The custom export role (infra/mysql-fleet-export-role.json) for the app identity on a whole
// subscription: every MySQL flexible server in it may be discovered, read and exported or backed
// up, and the operations it starts tracked (Microsoft: tracking async status needs the role at
// resource group or subscription scope; infra/README.md).
targetScope = 'subscription'

param roleDefinitionId string
param principalId string

resource exportRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mysql-fleet-export: export and back up the MySQL flexible servers of this subscription'
  }
}
