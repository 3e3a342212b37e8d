// The sample Logic App (optional: deployLogicApp): logicapps/export-workflow.json as a Consumption
// workflow (Microsoft.Logic/workflows) with a system-assigned identity, and Key Vault Secrets User
// for that identity on the function key's secret alone (not the vault: it also holds the app's
// SAS_SEALING_KEY). logicapps/README.md explains the workflow and the order of the steps: the
// secret must exist before this deploys (the role assignment's scope is the secret).
//
// The definition is rebuilt key by key from the sample rather than merged with union(), so the
// recurrence parameter replaces the trigger's whole; tests/e2e/test_logic_app_workflow.py checks
// the sample holds no key this rebuild would drop.
param name string
param location string
param tags object
param functionAppUrl string
param keyVaultName string
param functionKeySecretName string

@description('The Recurrence trigger\'s recurrence: frequency, interval, schedule (UTC unless startTime and timeZone are given).')
param recurrence object

@description('The body POSTed to /api/exports. It passes through the deployment, so it must hold no SAS: name target.containers (the app mints a SAS per export) or run backups.')
param exportRequest object

@description('Where notifications go: the resource id of a Logic App trigger (its callback URL, key included, is read here with listCallbackUrl(), never passed as a parameter) or an HTTPS URL that carries no secret. Empty: nowhere (the notification steps fail and the run shows it).')
param notificationEndpoint string

var workflow = loadJsonContent('../../logicapps/export-workflow.json')
// Key Vault Secrets User (Azure built-in roles reference, Security).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// ARM evaluates only the branch an if() takes, so listCallbackUrl() runs only for a trigger id.
var notificationUrl = startsWith(notificationEndpoint, '/subscriptions/') ? listCallbackUrl(notificationEndpoint, '2019-05-01').value : notificationEndpoint

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource functionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: keyVault
  name: functionKeySecretName
}

resource exportWorkflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    state: 'Enabled'
    definition: {
      '$schema': workflow['$schema']
      contentVersion: workflow.contentVersion
      parameters: workflow.parameters
      triggers: {
        Recurrence: {
          type: 'Recurrence'
          recurrence: recurrence
          runtimeConfiguration: workflow.triggers.Recurrence.runtimeConfiguration
        }
      }
      actions: workflow.actions
      outputs: workflow.outputs
    }
    parameters: {
      functionAppUrl: {
        value: functionAppUrl
      }
      keyVaultName: {
        value: keyVaultName
      }
      functionKeySecretName: {
        value: functionKeySecretName
      }
      exportRequest: {
        value: exportRequest
      }
      notificationWebhookUrl: {
        value: notificationUrl
      }
    }
  }
}

resource readsFunctionKey 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(functionKeySecret.id, exportWorkflow.id, keyVaultSecretsUser)
  scope: functionKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: exportWorkflow.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'mysql-fleet-export Logic App: reads the function key it calls the app with'
  }
}

output name string = exportWorkflow.name
output principalId string = exportWorkflow.identity.principalId
