// csp-guard in one resource group: Linux Function App (Python 3.11) on Elastic Premium or a Dedicated
// plan, its storage (queues, tables, host state), Key Vault, Application Insights + Log Analytics and a
// user-assigned managed identity with least-privilege roles. Written for Azure operated by 21Vianet
// (no Consumption / Flex Consumption there) and valid in the global cloud too: every endpoint comes
// from environment() or a resource output, never from a literal host name.
targetScope = 'resourceGroup'

@description('Prefix of every resource name, e.g. cspguard-prod. The host id is the first 32 characters of the app name, so keep it unique per storage account.')
@minLength(3)
@maxLength(24)
param namePrefix string

param location string = resourceGroup().location

@allowed(['ElasticPremium', 'Dedicated'])
@description('Elastic Premium (EP1+) scales out on queue length; Dedicated runs on an App Service plan you size yourself.')
param hostingPlan string = 'ElasticPremium'

@description('Plan SKU: EP1/EP2/EP3 for Elastic Premium; e.g. P1v3 or S1 for Dedicated. Empty = EP1 or P1v3.')
param planSku string = ''

@minValue(1)
@maxValue(20)
@description('Elastic Premium: most instances the app may scale out to (Partner Center rate limits are per partner, so more is not faster).')
param maxBurst int = 3

@allowed(['china', 'global'])
param pcCloud string = 'china'
@description('The partner\'s Entra tenant id (21Vianet Entra for china).')
param pcTenantId string
@description('Client id of the Partner Center app registration.')
param pcClientId string
@secure()
param pcClientSecret string = ''

@description('Off until the policy has been reviewed: with false the app only reports what it would do.')
param enforcementEnabled bool = false
@minValue(0)
param maxSuspensionsPerRun int = 20
@description('Six-field NCRONTAB in UTC (01:00 UTC = 09:00 China Standard Time).')
param sweepSchedule string = '0 0 1 * * *'
param fraudScanSchedule string = '0 15 * * * *'

param smtpHost string
@minValue(1)
@maxValue(65535)
param smtpPort int = 587
param smtpUsername string
@secure()
param smtpPassword string = ''
param smtpStarttls bool = true
param mailFrom string
param supportAddress string
@description('Shown to customers in every notice.')
param partnerName string
@description('How customers pay (bank account, portal); shown in payment reminders.')
param paymentInstructions string
@description('Where customers reply about collections.')
param collectionsContact string
@secure()
param teamWebhookUrl string = ''
@allowed([
  'generic'
  'wecom'
  'dingtalk'
  'feishu'
])
@description('The team webhook\'s format: generic JSON, WeCom / DingTalk group robot or Feishu bot.')
param teamWebhookKind string = 'generic'
@secure()
@description('The DingTalk or Feishu robot\'s signing secret; empty = unsigned.')
param teamWebhookSecret string = ''
@description('Client id of the Entra app registration people sign in to the console with (app roles viewer, operator, approver, admin); empty = no App Service Authentication (the console then refuses everyone).')
param authClientId string = ''
@description('Entra tenant people sign in from; default: the deployment\'s tenant.')
param authTenantId string = subscription().tenantId
@secure()
@description('That app registration\'s client secret (for the sign-in code flow); stored in Key Vault.')
param authClientSecret string = ''

@allowed([
  'Standard_ZRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_LRS'
])
@description('Storage redundancy; GZRS where the region pairs support it.')
param storageSku string = 'Standard_ZRS'

param allowScmBasicAuth bool = false
param tags object = {
  app: 'csp-guard'
}

var isElastic = hostingPlan == 'ElasticPremium'
var sku = !empty(planSku) ? planSku : (isElastic ? 'EP1' : 'P1v3')
var suffix = uniqueString(resourceGroup().id, namePrefix)
var names = loadJsonContent('names.json')
var contentShareName = toLower(take('${namePrefix}-content', 63))

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${namePrefix}-id'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: '${namePrefix}-logs'
    appInsightsName: '${namePrefix}-ai'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${toLower(replace(namePrefix, '-', ''))}${suffix}', 24)
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    skuName: storageSku
    needsContentShare: isElastic
    contentShareName: contentShareName
    queueNames: names.queues
    tableNames: names.tables
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: take('kv-${suffix}', 24)
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    pcClientSecret: pcClientSecret
    smtpPassword: smtpPassword
    teamWebhookUrl: teamWebhookUrl
    teamWebhookSecret: teamWebhookSecret
    authClientSecret: authClientSecret
    needsContentShare: isElastic
    storageAccountName: storage.outputs.name
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    appName: take('${namePrefix}-func', 32)
    planName: '${namePrefix}-plan'
    location: location
    tags: tags
    hostingPlan: hostingPlan
    planSku: sku
    maxBurst: maxBurst
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    contentShareName: contentShareName
    keyVaultUri: vault.outputs.uri
    appInsightsConnectionString: monitoring.outputs.connectionString
    hasTeamWebhook: !empty(teamWebhookUrl)
    teamWebhookKind: teamWebhookKind
    hasTeamWebhookSecret: !empty(teamWebhookSecret)
    authClientId: authClientId
    authTenantId: authTenantId
    hasAuthClientSecret: !empty(authClientSecret)
    allowScmBasicAuth: allowScmBasicAuth
    appSettings: {
      pcCloud: pcCloud
      pcTenantId: pcTenantId
      pcClientId: pcClientId
      enforcementEnabled: enforcementEnabled
      maxSuspensionsPerRun: maxSuspensionsPerRun
      sweepSchedule: sweepSchedule
      fraudScanSchedule: fraudScanSchedule
      smtpHost: smtpHost
      smtpPort: smtpPort
      smtpUsername: smtpUsername
      smtpStarttls: smtpStarttls
      mailFrom: mailFrom
      supportAddress: supportAddress
      partnerName: partnerName
      paymentInstructions: paymentInstructions
      collectionsContact: collectionsContact
    }
  }
}

output functionAppName string = app.outputs.name
output functionAppHost string = app.outputs.defaultHostName
output keyVaultName string = vault.outputs.name
output storageAccountName string = storage.outputs.name
