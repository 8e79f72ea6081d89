// Key Vault for the school's own provider keys (BYOK) and the one-time setup code that
// claims a fresh installation. RBAC only (no access policies), and deleted secrets stay
// recoverable: soft delete + purge protection.
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

@secure()
@description('One-time setup code (main.bicep: newGuid() per deployment), stored as the secret setupCodeName.')
param setupCode string

@description('Name of the setup code secret; the app reads it through a Key Vault reference (CONVERGIO_SETUP_CODE).')
param setupCodeName string = 'convergio-setup-code'

@description('Object id of the principal that may read the setup code in the portal (main.bicep: azd\'s signed-in user); empty: nobody is granted.')
param deployerObjectId string

// Key Vault Secrets Officer: the connections API writes keys, not only reads them.
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
// Key Vault Reader (metadata only, no values): the deployer can list the vault's secrets in the portal.
var keyVaultReader = '21090545-7ca7-4776-b22c-e363652d74d2'
// Key Vault Secrets User: the deployer can read the setup code's value, and no other secret's.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

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

// The setup code: whoever can read this secret can claim the installation (the console's setup
// page), once. ARM writes it through the management plane, so no data-plane role is needed here.
resource setupCodeSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: a one-time code the app voids when used; an expiry would leave the Key Vault reference unresolved
  parent: vault
  name: setupCodeName
  properties: {
    value: setupCode
    contentType: 'text/plain'
  }
}

// The person (or pipeline) running the deployment reads the setup code in the portal: Key
// Vault Reader on the vault to list its secrets, Key Vault Secrets User on this one secret to
// show its value. The principal's type is not known (a user, or a pipeline's service principal),
// so no principalType. Names: guid(scope id, principal object id, role id), as in azuredeploy.json
// (which fills an empty deployerObjectId with deployer().objectId; checkov's Bicep parser does not
// know deployer(), so here azd passes the signed-in user instead).
resource deployerReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerObjectId)) {
  name: guid(vault.id, deployerObjectId, keyVaultReader)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultReader)
    principalId: deployerObjectId
  }
}

resource deployerSetupCodeReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerObjectId)) {
  name: guid(setupCodeSecret.id, deployerObjectId, keyVaultSecretsUser)
  scope: setupCodeSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: deployerObjectId
  }
}

output uri string = vault.properties.vaultUri
output name string = vault.name
// Versionless: the app setting's Key Vault reference follows the newest version (a redeployment
// writes a new code as a new version).
output setupCodeUri string = '${vault.properties.vaultUri}secrets/${setupCodeSecret.name}'
output setupCodeName string = setupCodeSecret.name
