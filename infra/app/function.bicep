// The Convergio Core function app: Python 3.11 on the Flex Consumption plan, running as
// its user-assigned identity. All connections are identity based; app settings carry
// endpoints only, never secrets.
param planName string
param name string
param location string

@description('Includes azd-service-name: api, which azd uses to find the app to deploy to.')
param tags object

param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string

@allowed([512, 2048, 4096])
param instanceMemoryMB int

param maximumInstanceCount int
param taskHubName string
param keyVaultUrl string
param cosmosEndpoint string
param cosmosDatabaseName string
param applicationInsightsConnectionString string

@description('Durable Task Scheduler endpoint; empty means the Azure Storage provider.')
param durableTaskSchedulerEndpoint string

@description('HTTPS URL of the app package (`make package`, a release asset) to deploy with the app; empty: no code is deployed (azd deploy or func publish does it).')
param packageUri string

@description('Versionless URI of the Key Vault secret that holds the one-time setup code (keyvault module output).')
param setupCodeUri string

@description('Application (client) ID of the Entra app registration for sign-in; empty: no App Service Authentication, and the app trusts no principal headers.')
param entraClientId string

@description('Entra tenant (directory) ID that issues the sign-in tokens.')
param entraTenantId string

var useEntraSignIn = !empty(entraClientId)

var useScheduler = !empty(durableTaskSchedulerEndpoint)

// Names the code reads (infra/app-settings.names.json, checked against
// convergio/settings.py by tests/infra).
var convergioSettings = {
  TASKHUB_NAME: taskHubName
  KEY_VAULT_URL: keyVaultUrl
  COSMOS_ENDPOINT: cosmosEndpoint
  COSMOS_DATABASE: cosmosDatabaseName
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  // numba caches compiled code next to the package, which is read-only on Azure.
  NUMBA_CACHE_DIR: '/tmp/numba-cache'
  // The one-time code that claims the fresh installation: a Key Vault reference, resolved by the
  // platform with keyVaultReferenceIdentity, so the value is in the vault only, not in the app's
  // configuration. If it cannot be resolved the app sees this literal text, never a code.
  CONVERGIO_SETUP_CODE: '@Microsoft.KeyVault(SecretUri=${setupCodeUri})'
  // X-MS-CLIENT-PRINCIPAL headers are trusted only behind App Service Authentication (below),
  // which strips client-sent ones.
  CONVERGIO_TRUST_PRINCIPAL_HEADERS: useEntraSignIn ? 'true' : 'false'
}

// Platform settings: identity-based host storage and Entra ID telemetry ingestion.
var platformSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
  // DefaultAzureCredential picks the user-assigned identity by this (Key Vault, Cosmos).
  AZURE_CLIENT_ID: identityClientId
}

// host.json names the task hub connection DURABLE_TASK_SCHEDULER_CONNECTION_STRING
// (storageProvider.connectionStringName) for both providers. For the scheduler it is an
// endpoint string; for the Azure Storage provider it names a storage connection, so it
// gets the same identity-based settings as AzureWebJobsStorage.
// host.json leaves storageProvider.type out (the extension's default, Azure Storage) because the
// extension compares the type literally (no %setting% there); the scheduler is chosen with the
// documented host.json override in an app setting.
var durableConnectionSettings = useScheduler ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
} : {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING__accountName: storageAccountName
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING__credential: 'managedidentity'
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING__clientId: identityClientId
}

var appSettings = union(convergioSettings, platformSettings, durableConnectionSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy is not offered in every allowed EU region; opt in per region
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the app is a public HTTPS API; callers authenticate at the API
  // checkov:skip=CKV_AZURE_17: clients are browsers and scripts with tokens, not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales to zero by design (schools pay per use); the platform replaces instances
  // checkov:skip=CKV_AZURE_213: Flex Consumption instances are managed by the scale controller; App Service health check does not apply
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No publishing with user/password: deployments use Entra ID (azd, portal, CI).
resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

// Entra sign-in (App Service Authentication, "Easy Auth"), only with an app registration:
// ARM cannot create one (that is Microsoft Graph), so the school creates it in the portal and
// passes its client id (infra/README.md). Anonymous requests still reach the app, because
// API keys (Authorization: Bearer) must keep working; a signed-in browser arrives with the
// platform's X-MS-CLIENT-PRINCIPAL headers. No client secret: sign-in uses the ID token
// (the registration enables ID tokens). Tokens are kept in the token store (/.auth/me).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (useEntraSignIn) {
  // checkov:skip=CKV_AZURE_13: this resource is the App Service Authentication (authsettingsV2) itself; checkov reads site-style auth properties
  // checkov:skip=CKV_AZURE_63: HTTP logging is a site property; authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  // checkov:skip=CKV_AZURE_65: detailed error messages are a site property; authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  // checkov:skip=CKV_AZURE_66: failed request tracing is a site property; authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  // checkov:skip=CKV_AZURE_80: no .NET Framework here (Python); authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  // checkov:skip=CKV_AZURE_88: Azure Files is a site property, and Flex Consumption uses none; authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  // checkov:skip=CKV_AZURE_222: public access is the site's (suppressed there with its reason); authsettingsV2 is not a site: checkov applies its site checks to every Microsoft.Web/sites/config
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: 'https://login.microsoftonline.com/${entraTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${entraClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: true
      }
    }
  }
}

// The code: OneDeploy fetches the zip at packageUri and Flex Consumption stores it in the
// deployment container (functionAppConfig.deployment.storage) with the app's identity, so this
// runs after the container and the Storage Blob Data Owner assignment exist: the module takes
// storage.outputs.deploymentContainerUrl, so azd creates the storage module (container and
// role assignments) first. The package carries its dependencies (.python_packages), hence no
// remote build (ADR 0019). The Bicep type of the 'onedeploy' extension lists no properties,
// so `bicep build` warns (BCP187) about packageUri and remoteBuild; ARM accepts them.
resource packageDeployment 'Microsoft.Web/sites/extensions@2024-04-01' = if (!empty(packageUri)) {
  parent: functionApp
  name: 'onedeploy'
  // a change of the auth settings restarts the app: deploy the code after it, not during it
  dependsOn: [
    authSettings
  ]
  properties: {
    packageUri: packageUri
    remoteBuild: false
  }
}

output name string = functionApp.name
output url string = 'https://${functionApp.properties.defaultHostName}'
output consoleUrl string = 'https://${functionApp.properties.defaultHostName}/api/app/'
output setupUrl string = 'https://${functionApp.properties.defaultHostName}/api/app/setup'
output entraRedirectUri string = 'https://${functionApp.properties.defaultHostName}/.auth/login/aad/callback'
