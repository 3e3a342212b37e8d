// The Function app on the Flex Consumption plan, and every app setting it reads.
//
// The settings are the README's "Settings" table with its defaults (mysqlexport/settings.py holds
// the same defaults; tests/reliability/test_infra.py compares them), the platform's identity-based
// host storage and Application Insights settings, and the two secrets as Key Vault references.
// Settings the Flex Consumption plan rejects or ignores (FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, FUNCTIONS_WORKER_PROCESS_COUNT, ...) are
// not set: the runtime and the package location are functionAppConfig properties.
param name string
param location string
param tags object
param appServicePlanId string
param pythonVersion string
param instanceMemoryMB int
param maximumInstanceCount int
param durableAlwaysReadyInstances int
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param identityId string
param identityClientId string
param keyVaultName string
param exportSchedule string
param scheduledExportEnabled bool
param schedulerEndpoint string
param taskHubName string
param appSettingsOverrides object

@description('REPORT_CONTAINER_URL when the report container is not this app\'s storage account\'s reportContainerName; empty: that one.')
param reportContainerUrl string
param reportContainerName string

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ARM in this cloud (https://management.azure.com in the public cloud: the README default),
// without the trailing slash environment() gives it.
var resourceManager = environment().resourceManager
var armEndpoint = endsWith(resourceManager, '/') ? substring(resourceManager, 0, length(resourceManager) - 1) : resourceManager

// What the app itself reads (README "Settings"; mysqlexport/settings.py, sealing.py,
// triggers/schedule.py, orchestrators/replay_speed.py, mysqlexport/arm.py). HISTORY_RETENTION_DAYS:
// the nightly purge of finished runs' history (triggers/retention.py). REPORT_CONTAINER_URL: where
// each run's report files go, written with the identity (the app storage account's report
// container unless another is given; app/rbac.bicep grants the role on it).
var productSettings = {
  ARM_ENDPOINT: armEndpoint
  ARM_SCOPE: '${armEndpoint}/.default'
  MYSQL_API_VERSION: '2024-12-30'
  POLL_DEFAULT_SECONDS: '30'
  POLL_MAX_SECONDS: '300'
  MAX_CONCURRENCY: '20'
  DEADLINE_MINUTES: '720'
  SHARD_SIZE: '500'
  ARM_CONNECT_TIMEOUT_SECONDS: '10'
  ARM_READ_TIMEOUT_SECONDS: '60'
  ARM_GET_RETRIES: '2'
  BATCH_MAX_SERVERS: '4'
  POLL_HOMING: 'true'
  FAST_HISTORY_TIMESTAMPS: 'true'
  HISTORY_RETENTION_DAYS: '30'
  SAS_SEALING_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=sas-sealing-key)'
  EXPORT_SCHEDULE: exportSchedule
  EXPORT_SCHEDULE_REQUEST: scheduledExportEnabled ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=export-schedule-request)' : ''
  AZURE_CLIENT_ID: identityClientId
  REPORT_CONTAINER_URL: empty(reportContainerUrl) ? '${storageAccount.properties.primaryEndpoints.blob}${reportContainerName}' : reportContainerUrl
}

// What the host and the Python worker read. The timer stays disabled unless asked for; the
// worker's one thread pool gets a thread for each of host.json's 20 activities and 10
// orchestrator episodes at a time (README, "Running on the real Functions host").
var platformSettings = {
  'AzureWebJobs.scheduled_export.Disabled': scheduledExportEnabled ? 'false' : 'true'
  PYTHON_THREADPOOL_THREAD_COUNT: '30'
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storageAccount.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storageAccount.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storageAccount.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// The Durable Task Scheduler's connection, as Microsoft's durable-functions-order-processing-python
// sets it; read only once host.json names it (storageProvider azureManaged, docs/deploy.md).
var schedulerSettings = empty(schedulerEndpoint) ? {} : {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  TASKHUB_NAME: taskHubName
}

module site 'br/public:avm/res/web/site:0.15.1' = {
  name: 'site'
  params: {
    kind: 'functionapp,linux'
    name: name
    location: location
    tags: union(tags, {
      'azd-service-name': 'api'
    })
    serverFarmResourceId: appServicePlanId
    httpsOnly: true
    clientAffinityEnabled: false
    managedIdentities: {
      systemAssigned: false
      userAssignedResourceIds: [
        identityId
      ]
    }
    keyVaultAccessIdentityResourceId: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        alwaysReady: durableAlwaysReadyInstances > 0 ? [
          {
            name: 'durable'
            instanceCount: durableAlwaysReadyInstances
          }
        ] : []
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    siteConfig: {
      alwaysOn: false
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    basicPublishingCredentialsPolicies: [
      {
        name: 'ftp'
        allow: false
      }
      {
        name: 'scm'
        allow: false
      }
    ]
    appSettingsKeyValuePairs: union(productSettings, platformSettings, schedulerSettings, appSettingsOverrides)
  }
}

output name string = site.outputs.name
output uri string = 'https://${site.outputs.defaultHostname}'
output reportContainerUrl string = productSettings.REPORT_CONTAINER_URL
