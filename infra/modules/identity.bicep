// The user-assigned identity the Function App runs as. User-assigned (not system-assigned) so role
// assignments and Key Vault access exist before the app is created and survive app re-creation.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
