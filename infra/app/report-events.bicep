// Events for new run reports (optional: deployReportEvents): an Event Grid system topic on the
// storage account that holds the report container, and one subscription to
// Microsoft.Storage.BlobCreated whose subject ends in report.json under that container, the last
// of a run's three files, so one event per run (docs/operations.md). A blob event's subject is
// /blobServices/default/containers/{container}/blobs/{path} (Microsoft Learn, "Azure Blob Storage
// as an Event Grid source"); subject filters are "Filter events for Event Grid".
param location string
param tags object
param storageAccountName string
param reportContainerName string
param systemTopicName string

@description('Where the events go: the resource id of a Logic App trigger (/subscriptions/.../providers/Microsoft.Logic/workflows/<name>/triggers/<trigger>), whose callback URL, key included, is read here with listCallbackUrl() so it never passes through a parameter; or an HTTPS URL that carries no secret.')
@minLength(1)
param endpoint string

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// ARM evaluates only the branch an if() takes, so listCallbackUrl() runs only for a trigger id.
var isLogicAppTrigger = startsWith(endpoint, '/subscriptions/')
var endpointUrl = isLogicAppTrigger ? listCallbackUrl(endpoint, '2019-05-01').value : endpoint

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  properties: {
    source: storageAccount.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource reportCreated 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: systemTopic
  name: 'report-json-created'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: endpointUrl
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${reportContainerName}/'
      subjectEndsWith: 'report.json'
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}
