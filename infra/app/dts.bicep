// The Durable Task Scheduler backend (optional: durableBackend = 'DurableTaskScheduler').
//
// As Microsoft's Azure-Samples/durable-functions-order-processing-python infra/app/dts.bicep and
// dts-Access.bicep build it, on the first stable api-version of Microsoft.DurableTask
// (2025-11-01, Azure/azure-rest-api-specs specification/durabletask): a scheduler, one task hub
// named as host.json's hubName, and Durable Task Data Contributor for the app identity, which
// authenticates with it (the scheduler accepts managed identities only). The app uses it only once
// host.json's durableTask.storageProvider says so (docs/deploy.md).
param name string
param taskHubName string
param location string
param tags object

@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string
param skuCapacity int
param appPrincipalId string
param operatorPrincipalId string
param operatorPrincipalType string

@description('Addresses allowed to reach the scheduler. Flex Consumption apps without a virtual network have no fixed outbound addresses, so every address is allowed and access rests on Entra authentication and the role below, as in Microsoft\'s sample.')
param ipAllowlist array = [
  '0.0.0.0/0'
]

// Durable Task Data Contributor: Microsoft's docs say most Durable Functions apps need it (the app
// starts, queries, raises events on and purges instances besides running them).
var durableTaskDataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: skuName == 'Consumption' ? {
      name: skuName
    } : {
      name: skuName
      capacity: skuCapacity
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource appAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, appPrincipalId, durableTaskDataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The operator's view of the scheduler's dashboard (optional).
resource operatorAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(scheduler.id, operatorPrincipalId, durableTaskDataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
