// Key Vault for the school's own provider keys (BYOK). RBAC only (no access policies),
// and deleted secrets stay recoverable: soft delete + purge protection.
param name string
param location string
param tags object

@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string

@allowed(['Allow', 'Deny'])
param networkDefaultAction string

@description('Principal that reads and writes the provider keys (the function app identity).')
param principalId string

@description('Resource id of that identity: role assignment names are guid(scope id, identityId, role id), computed the same way in azuredeploy.json.')
param identityId string

// Key Vault Secrets Officer: the connections API writes keys, not only reads them.
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: firewall default action is the keyVaultNetworkDefaultAction parameter; Allow by default because the app has no VNet
  // checkov:skip=CKV_AZURE_189: public access is the keyVaultPublicNetworkAccess parameter; access is RBAC-only either way
  name: name
  location: location
  tags: tags
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
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: networkDefaultAction
      bypass: 'AzureServices'
    }
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output uri string = vault.properties.vaultUri
