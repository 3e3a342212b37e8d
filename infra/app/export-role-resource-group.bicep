// The custom export role (infra/mysql-fleet-export-role.json) for the app identity on one resource
// group: the narrowest scope that still lets the app track the operations it starts (Microsoft:
// tracking async status needs the role at resource group or subscription scope; infra/README.md).
targetScope = 'resourceGroup'

param roleDefinitionId string
param principalId string

resource exportRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mysql-fleet-export: export and back up the MySQL flexible servers of this resource group'
  }
}
