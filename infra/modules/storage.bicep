// One storage account: the Functions host's own state (blobs: leases, timers, keys), the app's queues
// and their -poison twins, and the app's tables. The app and the host reach it with the managed
// identity through the service URIs output below (never with keys).
//
// Shared-key access: Elastic Premium keeps the app's content (/home) on an Azure Files share, and the
// host mounts that share with a key-based connection string only (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING
// has no identity-based form). So on EP the account must allow shared keys; the key is kept in Key Vault
// and referenced, never written into app settings in clear. On a Dedicated plan no content share is
// needed (/home is App Service storage), so shared-key access is turned off entirely.
param name string
param location string
param tags object
param principalId string
@description('True on Elastic Premium: allow shared keys for the Azure Files content share only.')
param needsContentShare bool
param contentShareName string
@allowed([
  'Standard_ZRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_LRS'
])
param skuName string = 'Standard_ZRS'
param queueNames array
param tableNames array

var queueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var tableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // checkov:skip=CKV_AZURE_35: the Functions host reaches its storage over the public endpoint unless the app is VNet-integrated with private endpoints (a network design left to the partner); access is Entra-only for the app
  // checkov:skip=CKV_AZURE_59: blob public access is off (allowBlobPublicAccess false); the endpoint stays reachable for the host for the reason above
  // checkov:skip=CKV_AZURE_206: ZRS by default (data stays in-region across zones); set storageSku to Standard_GZRS where the region offers it
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: needsContentShare
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for q in queueNames: {
  parent: queueService
  name: q
}]

// Where the host moves a message after maxDequeueCount failures. The host would create it on demand;
// creating it here lets alerts and the backlog metric see it from day one.
resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for q in queueNames: {
  parent: queueService
  name: '${q}-poison'
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for t in tableNames: {
  parent: tableService
  name: t
}]

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = if (needsContentShare) {
  parent: account
  name: 'default'
}

resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = if (needsContentShare) {
  parent: fileService
  name: contentShareName
  properties: {
    shareQuota: 100
  }
}

resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, queueDataContributor)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', queueDataContributor)
  }
}

resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, tableDataContributor)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tableDataContributor)
  }
}

// The host keeps leases, timer schedules and keys in blobs (identity-based AzureWebJobsStorage).
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, blobDataOwner)
  scope: account
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
  }
}

output name string = account.name
output id string = account.id
// Cloud-correct endpoints (core.chinacloudapi.cn in China) straight from the account.
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
