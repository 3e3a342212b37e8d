// The alert "a server Failed or TimedOut in the last scheduled run" (optional: deployFailureAlert).
//
// A scheduled query rule (log search alert) on Application Insights with the query of
// docs/operations.md, loaded from failed-scheduled-run.kql (tests/reliability/test_infra.py checks
// the guide shows the same text): every hour over two hours of data, one row per scheduled run
// whose record arrived in the last hour with a Failed or TimedOut server, firing when there is a
// row; each failed run is its own alert (no auto-resolve). An action group mails the address given.
param location string
param tags object
param applicationInsightsName string
param actionGroupName string
param alertName string

@description('Where the alert mails go.')
param email string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'mysqlexport'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedScheduledRun 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: alertName
  location: location
  tags: tags
  properties: {
    displayName: 'MySQL fleet export: a server Failed or TimedOut in a scheduled run'
    description: 'A scheduled run (sched-...) ended with servers Failed or TimedOut: the rows name the run; docs/operations.md has the query for its servers.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT2H'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: loadTextContent('failed-scheduled-run.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output alertId string = failedScheduledRun.id
