// The hosting plan and the Linux Function App (Python 3.11). Every app setting lives here, one per
// as an object with name then value: tests/infra parses these and checks them against the
// settings shared/settings.py marks as required for a deployment.
param appName string
param planName string
param location string
param tags object
@allowed(['ElasticPremium', 'Dedicated'])
param hostingPlan string
param planSku string
@minValue(1)
param maxBurst int
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param contentShareName string
param keyVaultUri string
param appInsightsConnectionString string
param hasTeamWebhook bool
@description('generic, wecom, dingtalk or feishu: the format of the team webhook.')
param teamWebhookKind string = 'generic'
param hasTeamWebhookSecret bool = false
@description('Client id of the console\'s Entra app registration (app roles viewer, operator, approver, admin); empty = no App Service Authentication.')
param authClientId string = ''
@description('Entra tenant (21Vianet) people sign in from.')
param authTenantId string = ''
param hasAuthClientSecret bool = false
param allowScmBasicAuth bool
param appSettings object

var isElastic = hostingPlan == 'ElasticPremium'

// Key Vault reference to a versionless secret URI: the platform picks up a rotated secret (within
// 24 h, or on restart). keyVaultUri is the vault's own output (vault.azure.cn in China).
var kv = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/'

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: isElastic ? 'elastic' : 'linux'
  // checkov:skip=CKV_AZURE_225: zone redundancy needs 3 always-ready instances; a sweep that misses a zone outage catches up on the next run (queues and tables are ZRS)
  sku: {
    name: planSku
    tier: isElastic ? 'ElasticPremium' : null // Dedicated: the tier follows from the SKU name
  }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: isElastic ? maxBurst : null
  }
}

var hostSettings = [
  {
    name: 'FUNCTIONS_EXTENSION_VERSION'
    value: '~4'
  }
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'python'
  }
  // Identity-based host storage: explicit service URIs from the account (never __accountName, which
  // builds global-cloud host names).
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storageBlobEndpoint
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storageQueueEndpoint
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storageTableEndpoint
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  // The app's own SDK clients (DefaultAzureCredential) use the same user-assigned identity.
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'AZURE_AUTHORITY_HOST'
    value: environment().authentication.loginEndpoint
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsightsConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
  // The package is built on the developer's machine for Linux (devtools/package.py): no remote build.
  {
    name: 'WEBSITE_RUN_FROM_PACKAGE'
    value: '1'
  }
  {
    name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
    value: 'false'
  }
  {
    name: 'ENABLE_ORYX_BUILD'
    value: 'false'
  }
  // Production overrides of host.json (docs/host-settings.md): host.json keeps the fast local values the
  // local runner and tests use; in Azure a failed message waits 1 min between attempts (5 attempts span a
  // short Partner Center outage instead of poisoning everything in a minute) and idle queues are polled
  // every 10 s instead of 2 s.
  {
    name: 'AzureFunctionsJobHost__extensions__queues__visibilityTimeout'
    value: '00:01:00'
  }
  {
    name: 'AzureFunctionsJobHost__extensions__queues__maxPollingInterval'
    value: '00:00:10'
  }
]

// Elastic Premium keeps /home on an Azure Files share (see storage.bicep for why keys are allowed).
var contentShareSettings = isElastic ? [
  {
    name: 'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
    value: '${kv}content-share-connection)'
  }
  {
    name: 'WEBSITE_CONTENTSHARE'
    value: contentShareName
  }
  // Required when the content connection string is a Key Vault reference; the share is created by the template.
  {
    name: 'WEBSITE_SKIP_CONTENTSHARE_VALIDATION'
    value: '1'
  }
] : []

var cspguardSettings = [
  {
    name: 'CSPGUARD_PC_CLOUD'
    value: appSettings.pcCloud
  }
  {
    name: 'CSPGUARD_PC_TENANT_ID'
    value: appSettings.pcTenantId
  }
  {
    name: 'CSPGUARD_PC_CLIENT_ID'
    value: appSettings.pcClientId
  }
  {
    name: 'CSPGUARD_PC_CLIENT_SECRET'
    value: '${kv}pc-client-secret)'
  }
  {
    name: 'CSPGUARD_ENFORCEMENT_ENABLED'
    value: appSettings.enforcementEnabled ? 'true' : 'false'
  }
  {
    name: 'CSPGUARD_MAX_SUSPENSIONS_PER_RUN'
    value: string(appSettings.maxSuspensionsPerRun)
  }
  {
    name: 'SWEEP_SCHEDULE'
    value: appSettings.sweepSchedule
  }
  {
    name: 'FRAUD_SCAN_SCHEDULE'
    value: appSettings.fraudScanSchedule
  }
  {
    name: 'CSPGUARD_SMTP_HOST'
    value: appSettings.smtpHost
  }
  {
    name: 'CSPGUARD_SMTP_PORT'
    value: string(appSettings.smtpPort)
  }
  {
    name: 'CSPGUARD_SMTP_USERNAME'
    value: appSettings.smtpUsername
  }
  {
    name: 'CSPGUARD_SMTP_PASSWORD'
    value: '${kv}smtp-password)'
  }
  {
    name: 'CSPGUARD_SMTP_STARTTLS'
    value: appSettings.smtpStarttls ? 'true' : 'false'
  }
  {
    name: 'CSPGUARD_MAIL_FROM'
    value: appSettings.mailFrom
  }
  {
    name: 'CSPGUARD_SUPPORT_ADDRESS'
    value: appSettings.supportAddress
  }
  {
    name: 'CSPGUARD_PARTNER_NAME'
    value: appSettings.partnerName
  }
  {
    name: 'CSPGUARD_PAYMENT_INSTRUCTIONS'
    value: appSettings.paymentInstructions
  }
  {
    name: 'CSPGUARD_COLLECTIONS_CONTACT'
    value: appSettings.collectionsContact
  }
]

var webhookSettings = concat(hasTeamWebhook ? [
  {
    name: 'CSPGUARD_TEAM_WEBHOOK_URL'
    value: '${kv}team-webhook-url)'
  }
  {
    name: 'CSPGUARD_TEAM_WEBHOOK_KIND'
    value: teamWebhookKind
  }
] : [], hasTeamWebhookSecret ? [
  {
    name: 'CSPGUARD_TEAM_WEBHOOK_SECRET'
    value: '${kv}team-webhook-secret)'
  }
] : [])

// App Service Authentication reads its Entra client secret from this app setting (a Key Vault reference).
var authSettings = hasAuthClientSecret ? [
  {
    name: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'
    value: '${kv}auth-client-secret)'
  }
] : []

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_222: billing/ERP systems post payment events over HTTPS with function keys; a private endpoint is the partner's network choice
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys or Entra tokens, not client certificates
  // checkov:skip=CKV_AZURE_212: Elastic Premium keeps 1 always-ready instance and scales out on queue length; Partner Center rate limits make more idle instances pointless
  // checkov:skip=CKV_AZURE_213: /api/health answers 503 for configuration problems that a restart cannot fix; platform health-check replacement would only churn instances
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId // resolve Key Vault references with the user-assigned identity
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      alwaysOn: !isElastic // Dedicated: keep the host running so timers and queue polling never stop
      minimumElasticInstanceCount: isElastic ? 1 : 0
      functionAppScaleLimit: isElastic ? maxBurst : 0
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: concat(hostSettings, contentShareSettings, cspguardSettings, webhookSettings, authSettings)
    }
  }
}

resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

// Zip deploy with an Entra token (az CLI) needs no basic auth; turn it on only for tools that do.
resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: allowScmBasicAuth
  }
}

// App Service Authentication (Easy Auth) with Microsoft Entra ID: the issuer comes from environment(), so in
// Azure operated by 21Vianet it is https://login.chinacloudapi.cn/<tenant>/v2.0. Unauthenticated requests are let
// through to the app, which answers 401 (API) or redirects to /.auth/login/aad (console) itself: payment-events
// are called by systems with a function key. The platform sets WEBSITE_AUTH_ENABLED=True and forwards
// x-ms-client-principal (roles claim = the app roles), which the app then trusts (shared/auth.py).
resource auth 'Microsoft.Web/sites/config@2023-12-01' = if (!empty(authClientId)) {
  // checkov's Bicep parser takes this sites/config child for a web app and runs the site checks on it (the site
  // above carries them); each skip below is such a site-level check:
  // checkov:skip=CKV_AZURE_13: this resource IS App Service Authentication; the parser does not read conditional resources' properties
  // checkov:skip=CKV_AZURE_63: site-level check (HTTP logging goes to Application Insights), not a property of authsettingsV2
  // checkov:skip=CKV_AZURE_65: site-level check; detailed error pages stay off for a public API
  // checkov:skip=CKV_AZURE_66: site-level check; requests are traced in Application Insights
  // checkov:skip=CKV_AZURE_80: site-level check; the app is Python, no .NET Framework
  // checkov:skip=CKV_AZURE_88: site-level check; Functions keep their content share as the host requires
  // checkov:skip=CKV_AZURE_222: site-level check, skipped on the site with its reason
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
      runtimeVersion: '~1'
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        enabled: true
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          clientSecretSettingName: hasAuthClientSecret ? 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET' : null
          openIdIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${authClientId}'
            authClientId
          ]
        }
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
