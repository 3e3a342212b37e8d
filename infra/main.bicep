// mysql-fleet-export in Azure: what `azd up` (or `az deployment sub create`) provisions.
//
// Modelled on Microsoft's templates Azure-Samples/durable-functions-quickstart-python-azd and
// functions-quickstart-python-http-azd (same Azure Verified Module versions, the same identity-based
// AzureWebJobsStorage settings and storage roles) and durable-functions-order-processing-python
// (the Durable Task Scheduler). docs/deploy.md explains every resource, role and parameter;
// tests/reliability/test_infra.py checks this file without Azure (`make test`), and `make
// infra-check` scans it with checkov.
//
// Keep every expression within what both Bicep parsers used by the checks understand
// (pycep-parser 0.7 in the tests, 0.5 inside checkov): plain `string`/`int`/`bool`/`array`/`object`
// parameter types, no user-defined types, no lambdas other than filter(), no deployer().
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it makes the resource names unique.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the Flex Consumption plan: az functionapp list-flexconsumption-locations.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; rg-<environmentName> when empty.')
param resourceGroupName string = ''

@description('Python version of the Function app. The app supports 3.11, 3.12 and 3.13; check the region offers it: az functionapp list-flexconsumption-runtimes --location <region> --runtime python.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.12'

@description('Memory of each Flex Consumption instance, in MB (billed per GB-second).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances of the durable group (orchestrators and activities). Microsoft recommends 1 for Durable Functions on Flex Consumption; each one is billed around the clock, so the default is 0 (scale from zero, billed per execution only).')
@minValue(0)
@maxValue(10)
param durableAlwaysReadyInstances int = 0

@secure()
@minLength(44)
@description('SAS_SEALING_KEY: one or more comma-separated Fernet keys, the first seals and all open (python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"). Stored in Key Vault only; the app setting is a Key Vault reference.')
param sasSealingKey string

@description('NCRONTAB schedule of the scheduled_export timer (EXPORT_SCHEDULE). Required by the host even while the timer is disabled.')
param exportSchedule string = '0 0 2 * * *'

@description('Run the schedule: enables the scheduled_export timer and points EXPORT_SCHEDULE_REQUEST at the Key Vault secret export-schedule-request, which must hold the request body (docs/deploy.md). Disabled by default.')
param scheduledExportEnabled bool = false

@description('Subscription ids whose MySQL flexible servers the app may export: the custom role is assigned to the app identity on each whole subscription.')
param exportSubscriptionIds array = []

@description('Resource group ids (/subscriptions/<id>/resourceGroups/<name>) whose servers the app may export: the custom role is assigned on each. Narrower than a subscription; never a single server (tracking async operations needs the group or wider, infra/README.md).')
param exportResourceGroupIds array = []

@description('The durable backend: the Azure Storage task hub in the app storage account (default), or a Durable Task Scheduler (then host.json needs the storageProvider change in docs/deploy.md).')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler SKU (durableBackend DurableTaskScheduler only).')
@allowed([
  'Consumption'
  'Dedicated'
])
param dtsSkuName string = 'Consumption'

@description('Durable Task Scheduler capacity units (Dedicated SKU only).')
@minValue(1)
param dtsCapacity int = 1

@description('Replication of the storage account that holds the deployment package, the host state and (with the Azure Storage backend) the task hub.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Daily ingestion cap of the Log Analytics workspace behind Application Insights, in GB (-1: no cap).')
param logDailyQuotaGb int = -1

@description('Object id of a person or pipeline that operates the app: gets Key Vault Secrets Officer on the vault (to store export-schedule-request) and, with the scheduler, Durable Task Data Contributor (its dashboard). Empty: nobody. azd passes the signed-in user.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('App settings that replace the defaults below (for example {"MAX_CONCURRENCY": "50"}). Never put a secret here: secrets go to Key Vault.')
param appSettingsOverrides object = {}

@description('Name of the container the run reports go to in the app storage account (REPORT_CONTAINER_URL), created by the deployment.')
@minLength(3)
@maxLength(63)
param reportContainerName string = 'reports'

@description('REPORT_CONTAINER_URL to use instead (https://<account>.blob.core.windows.net/<container>): then no container is created here, and the identity needs Storage Blob Data Contributor on that one (docs/deploy.md).')
param reportContainerUrl string = ''

@description('Storage account resource ids (/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Storage/storageAccounts/<name>) that export runs name in target.containers: the app identity gets Storage Blob Delegator and Storage Blob Data Contributor on each, to mint a user-delegation SAS per export.')
param exportTargetStorageAccountIds array = []

@description('Create the alert "a server Failed or TimedOut in the last scheduled run" (a scheduled query rule on Application Insights, docs/operations.md) and an action group that mails failureAlertEmail.')
param deployFailureAlert bool = false

@description('Where the failure alert mails go (deployFailureAlert).')
param failureAlertEmail string = ''

@description('Publish an event for every new report.json (Event Grid system topic on the app storage account, subscription on Microsoft.Storage.BlobCreated) to reportEventsEndpoint.')
param deployReportEvents bool = false

@description('Where report events go (deployReportEvents): the resource id of a Logic App trigger (its callback URL, key included, is read at deployment with listCallbackUrl(), never passed as a parameter), or an HTTPS URL that carries no secret.')
param reportEventsEndpoint string = ''

@description('Also deploy the sample Logic App (logicapps/export-workflow.json): it POSTs logicAppExportRequest to the app on logicAppRecurrence with the function key from the Key Vault secret logicAppFunctionKeySecretName, which must exist first (logicapps/README.md).')
param deployLogicApp bool = false

@description('The Logic App\'s Recurrence: frequency, interval, schedule (UTC unless startTime and timeZone are given).')
param logicAppRecurrence object = {
  frequency: 'Day'
  interval: 1
  schedule: {
    hours: [
      2
    ]
    minutes: [
      0
    ]
  }
}

@description('The body the Logic App POSTs to /api/exports. It passes through the deployment, so it must hold no SAS: name target.containers or run backups. The default {} is refused by the app, which the workflow reports.')
param logicAppExportRequest object = {}

@description('Name of the Key Vault secret holding the function key the Logic App calls the app with.')
param logicAppFunctionKeySecretName string = 'export-function-key'

@description('Where the Logic App sends notifications: the resource id of a Logic App trigger (callback URL read with listCallbackUrl()) or an HTTPS URL that carries no secret.')
param logicAppNotificationEndpoint string = ''

var abbrs = loadJsonContent('abbreviations.json')
// The role's single source: the same file tests/reliability/test_least_privilege.py holds to
// the ARM client's calls, so the role deployed cannot drift from the role tested.
var exportRole = loadJsonContent('mysql-fleet-export-role.json')
// The task hub's name lives in host.json (bumped on a breaking release, README "Upgrading").
var hostJson = loadJsonContent('../host.json')
var taskHubName = hostJson.extensions.durableTask.hubName
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}mysql-export-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var useScheduler = durableBackend == 'DurableTaskScheduler'
var exportSubscriptionScopes = [for subscriptionId in exportSubscriptionIds: '/subscriptions/${subscriptionId}']
var exportScopes = concat(exportSubscriptionScopes, exportResourceGroupIds)
// The report container lives in the app storage account unless another URL is given.
var reportContainerHere = empty(reportContainerUrl)
var reportContainers = reportContainerHere ? [
  {
    name: reportContainerName
  }
] : []

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The app's one identity: ARM (AZURE_CLIENT_ID), host storage, Key Vault references, the scheduler.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}mysql-export-${resourceToken}'
    location: location
    tags: tags
  }
}

module plan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

// Host storage: the deployment package, keys, timer state and the Azure Storage task hub.
// No shared keys: every client (host, deployment, durable extension) signs in with the identity.
module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: concat([
        {
          name: deploymentContainerName
        }
      ], reportContainers)
    }
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'loganalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
    dailyQuotaGb: logDailyQuotaGb
  }
}

// Local authentication off: telemetry is accepted only with an Entra token of the app identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING, Monitoring Metrics Publisher in app/rbac.bicep).
module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appinsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
  }
}

// The app reads the secrets (Key Vault references); the operator, if any, manages them.
var appVaultRoles = [
  {
    principalId: identity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionIdOrName: 'Key Vault Secrets User'
  }
]
var operatorVaultRoles = empty(operatorPrincipalId) ? [] : [
  {
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
    roleDefinitionIdOrName: 'Key Vault Secrets Officer'
  }
]

// SAS_SEALING_KEY lives here, written from the @secure parameter on every deployment (so the
// parameter stays the one source of the key: rotate by changing it, docs/deploy.md). RBAC only;
// the app identity reads secrets, an operator (optional) manages them.
module vault 'br/public:avm/res/key-vault/vault:0.13.3' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    sku: 'standard'
    enableRbacAuthorization: true
    enablePurgeProtection: true
    softDeleteRetentionInDays: 90
    enableVaultForDeployment: false
    enableVaultForTemplateDeployment: false
    enableVaultForDiskEncryption: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    secrets: [
      {
        name: 'sas-sealing-key'
        value: sasSealingKey
        contentType: 'Fernet keys, comma-separated: the first seals, all open'
      }
    ]
    roleAssignments: concat(appVaultRoles, operatorVaultRoles)
  }
}

module scheduler 'app/dts.bicep' = if (useScheduler) {
  name: 'scheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    taskHubName: taskHubName
    location: location
    tags: tags
    skuName: dtsSkuName
    skuCapacity: dtsCapacity
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    appServicePlanId: plan.outputs.resourceId
    pythonVersion: pythonVersion
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.name
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    keyVaultName: vault.outputs.name
    exportSchedule: exportSchedule
    scheduledExportEnabled: scheduledExportEnabled
    schedulerEndpoint: useScheduler ? scheduler.outputs.endpoint : ''
    taskHubName: taskHubName
    appSettingsOverrides: appSettingsOverrides
    reportContainerUrl: reportContainerUrl
    reportContainerName: reportContainerName
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.name
    appPrincipalId: identity.outputs.principalId
    azureStorageTaskHub: !useScheduler
    reportContainerName: reportContainerHere ? reportContainerName : ''
  }
}

// Per-export SAS minting for target.containers: the two storage roles on each target account,
// in its own subscription and resource group.
module exportTargetStorage 'app/export-target-storage.bicep' = [for storageAccountId in exportTargetStorageAccountIds: {
  name: 'export-target-${uniqueString(environmentName, storageAccountId)}'
  scope: resourceGroup(split(storageAccountId, '/')[2], split(storageAccountId, '/')[4])
  params: {
    storageAccountName: last(split(storageAccountId, '/'))
    principalId: identity.outputs.principalId
  }
}]

module failureAlert 'app/alerts.bicep' = if (deployFailureAlert) {
  name: 'failure-alert'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.name
    actionGroupName: 'ag-mysql-export-${resourceToken}'
    alertName: 'mysql-export-failed-scheduled-run-${resourceToken}'
    email: failureAlertEmail
  }
}

module reportEvents 'app/report-events.bicep' = if (deployReportEvents) {
  name: 'report-events'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    reportContainerName: reportContainerName
    systemTopicName: 'evgt-reports-${resourceToken}'
    endpoint: reportEventsEndpoint
  }
}

module logicApp 'app/logicapp.bicep' = if (deployLogicApp) {
  name: 'logic-app'
  scope: rg
  params: {
    name: 'logic-mysql-export-${resourceToken}'
    location: location
    tags: tags
    functionAppUrl: api.outputs.uri
    keyVaultName: vault.outputs.name
    functionKeySecretName: logicAppFunctionKeySecretName
    recurrence: logicAppRecurrence
    exportRequest: logicAppExportRequest
    notificationEndpoint: logicAppNotificationEndpoint
  }
}

// The custom role, defined once per environment from infra/mysql-fleet-export-role.json: its
// actions, and nothing else, are what the app identity may do on the MySQL servers. Role names
// are unique in a tenant, so the environment's name is appended.
resource exportRoleDefinition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, environmentName, exportRole.Name)
  properties: {
    roleName: '${exportRole.Name} (${environmentName})'
    description: exportRole.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: exportRole.Actions
        notActions: exportRole.NotActions
        dataActions: exportRole.DataActions
        notDataActions: exportRole.NotDataActions
      }
    ]
    // The deployment's own subscription is always assignable: the definition is created there.
    assignableScopes: union([
      subscription().id
    ], exportScopes)
  }
}

module exportRoleOnSubscriptions 'app/export-role-subscription.bicep' = [for subscriptionId in exportSubscriptionIds: {
  name: 'export-role-${uniqueString(environmentName, subscriptionId)}'
  scope: subscription(subscriptionId)
  params: {
    roleDefinitionId: exportRoleDefinition.id
    principalId: identity.outputs.principalId
  }
}]

module exportRoleOnResourceGroups 'app/export-role-resource-group.bicep' = [for resourceGroupId in exportResourceGroupIds: {
  name: 'export-role-${uniqueString(environmentName, resourceGroupId)}'
  scope: resourceGroup(split(resourceGroupId, '/')[2], split(resourceGroupId, '/')[4])
  params: {
    roleDefinitionId: exportRoleDefinition.id
    principalId: identity.outputs.principalId
  }
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.name
output APP_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APP_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output EXPORT_ROLE_DEFINITION_ID string = exportRoleDefinition.id
output REPORT_CONTAINER_URL string = api.outputs.reportContainerUrl
output DURABLE_TASK_SCHEDULER_ENDPOINT string = useScheduler ? scheduler.outputs.endpoint : ''
