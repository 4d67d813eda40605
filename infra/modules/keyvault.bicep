// Key Vault (RBAC, soft delete, purge protection) holding the app's secrets. The app reads them only
// through Key Vault references in app settings, resolved by the platform with the app's identity.
param name string
param location string
param tags object
param principalId string
@secure()
@description('Partner Center app registration client secret; empty = set it later with az keyvault secret set.')
param pcClientSecret string = ''
@secure()
@description('SMTP password; empty = set it later.')
param smtpPassword string = ''
@secure()
@description('Team webhook URL (carries its own token); empty = none.')
param teamWebhookUrl string = ''
@secure()
@description('Client secret of the console\'s Entra app registration (App Service Authentication); empty = none.')
param authClientSecret string = ''
@secure()
@description('Signing secret of the team chat robot (DingTalk, Feishu); empty = none.')
param teamWebhookSecret string = ''
@description('Elastic Premium only: store the content share connection string (see storage.bicep).')
param needsContentShare bool
param storageAccountName string
@description('Expiry (epoch seconds) stamped on the secrets given here; match the Entra client secret lifetime.')
param secretsExpireAt int = dateTimeToEpoch(dateTimeAdd(utcNow(), 'P2Y'))

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: Key Vault references are resolved by the platform over the public endpoint unless the app is VNet-integrated; access is RBAC-only (Entra), no access policies
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109; a private endpoint is the partner's network choice
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource secretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, secretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

resource pcSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(pcClientSecret)) {
  // checkov:skip=CKV_AZURE_41: exp is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_114: contentType is set below; same parser limitation
  parent: vault
  name: 'pc-client-secret'
  properties: {
    value: pcClientSecret
    contentType: 'text/plain'
    attributes: {
      exp: secretsExpireAt
    }
  }
}

resource smtpSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  // checkov:skip=CKV_AZURE_41: exp is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_114: contentType is set below; same parser limitation
  parent: vault
  name: 'smtp-password'
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
    attributes: {
      exp: secretsExpireAt
    }
  }
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamWebhookUrl)) {
  // checkov:skip=CKV_AZURE_41: exp is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_114: contentType is set below; same parser limitation
  parent: vault
  name: 'team-webhook-url'
  properties: {
    value: teamWebhookUrl
    contentType: 'text/uri'
    attributes: {
      exp: secretsExpireAt
    }
  }
}

resource authSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authClientSecret)) {
  // checkov:skip=CKV_AZURE_41: exp is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_114: contentType is set below; same parser limitation
  parent: vault
  name: 'auth-client-secret'
  properties: {
    value: authClientSecret
    contentType: 'text/plain'
    attributes: {
      exp: secretsExpireAt
    }
  }
}

resource chatSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamWebhookSecret)) {
  // checkov:skip=CKV_AZURE_41: exp is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_114: contentType is set below; same parser limitation
  parent: vault
  name: 'team-webhook-secret'
  properties: {
    value: teamWebhookSecret
    contentType: 'text/plain'
    attributes: {
      exp: secretsExpireAt
    }
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// Built from the account itself and environment(): the endpoint suffix is core.chinacloudapi.cn in China.
resource contentShareSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (needsContentShare) {
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov's Bicep parser does not read the properties of conditional (if) resources
  // checkov:skip=CKV_AZURE_41: lives as long as the storage key it carries; an expiry would take the app down when it passes. Rotate it with the key instead
  parent: vault
  name: 'content-share-connection'
  properties: {
    contentType: 'text/plain'
    value: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
