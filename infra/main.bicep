// Convergio Core on Azure: a Python Durable Functions app on Flex Consumption, with
// its own identity, storage (host + Durable task hub), Key Vault (BYOK provider keys),
// Cosmos DB (usage ledger, tenant config) and Application Insights. Nothing uses keys
// or connection strings with secrets: every data-plane call is Entra ID (RBAC).
//
// Used by `azd up` (see azure.yaml, main.parameters.json). The portal "Deploy to Azure"
// button uses azuredeploy.json, a hand-kept ARM twin of this file: change both together
// (tests/infra checks that they agree).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment (or the school\'s name prefix); feeds the resource names and the azd-env-name tag.')
param environmentName string

@description('Region for every resource. Must be one of allowedLocations: the data stays in that region.')
param location string = 'westeurope'

@description('EU regions a deployment may use. The guard below fails the deployment for any other location.')
param allowedLocations array = [
  'westeurope'
  'northeurope'
  'swedencentral'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'spaincentral'
  'polandcentral'
]

@description('Run the Durable task hub on the Durable Task Scheduler instead of the Azure Storage provider.')
param useDurableTaskScheduler bool = false

@description('Durable task hub name (TASKHUB_NAME).')
param taskHubName string = 'ConvergioHub'

@description('Flex Consumption memory per instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Flex Consumption scale-out limit.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Key Vault public network access. "Disabled" needs private endpoints, which this template does not create.')
@allowed(['Enabled', 'Disabled'])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('Key Vault firewall default action. "Deny" only lets trusted Azure services through, and Flex Consumption without a VNet is not one of them.')
@allowed(['Allow', 'Deny'])
param keyVaultNetworkDefaultAction string = 'Allow'

@description('HTTPS URL of the app package to deploy (`make package`; default: the latest release asset). Empty: the template creates the app without code, and `azd deploy` publishes it.')
param packageUri string = 'https://github.com/convergio/convergio-core/releases/latest/download/convergio-app.zip'

@secure()
@description('One-time setup code that claims the fresh installation in the console (its setup page). Default: a new random GUID at every deployment, stored only as the Key Vault secret convergio-setup-code, which the deployer may read.')
param setupCode string = newGuid() // checkov:skip=CKV_AZURE_131: generated per deployment (newGuid()), not a hardcoded value

@description('Object id of the person (or pipeline) who may read the setup code in the portal: Key Vault Reader on the vault and Key Vault Secrets User on the setup code secret. azd passes the signed-in principal (AZURE_PRINCIPAL_ID, main.parameters.json). Empty: nobody is granted; a Key Vault administrator reads it.')
param deployerObjectId string = ''

@description('Optional: application (client) ID of an Entra app registration, for Microsoft sign-in in front of the app (App Service Authentication). Empty: no sign-in, API keys only.')
param entraClientId string = ''

@description('Optional: Entra tenant (directory) ID of that app registration. Empty: the subscription\'s tenant.')
param entraTenantId string = ''

@description('Optional contact e-mail of the person who runs this deployment; recorded as the admin-contact tag.')
param adminContactEmail string = ''

// Optional name overrides; empty means "<abbreviation><resourceToken>".
param resourceGroupName string = ''
param identityName string = ''
param appServicePlanName string = ''
param functionAppName string = ''
param storageAccountName string = ''
param keyVaultName string = ''
param cosmosAccountName string = ''
param logAnalyticsName string = ''
param applicationInsightsName string = ''
param durableTaskSchedulerName string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = union({ 'azd-env-name': environmentName }, empty(adminContactEmail) ? {} : { 'admin-contact': adminContactEmail })

// EU location guard. Bicep has no GA assert and @allowed cannot take a parameter, so
// every resource's location goes through this variable: for a location outside
// allowedLocations it evaluates json() on text that is not JSON, which ARM rejects
// while validating the deployment, before anything is created. ARM's if() only
// evaluates the branch it returns, so an allowed location never hits the error.
var guardedLocation = contains(allowedLocations, location) ? location : json('ERROR: location "${location}" is not in allowedLocations')

var names = {
  resourceGroup: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  identity: empty(identityName) ? '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}' : identityName
  plan: empty(appServicePlanName) ? '${abbrs.webServerFarms}${resourceToken}' : appServicePlanName
  functionApp: empty(functionAppName) ? '${abbrs.webSitesFunctions}${resourceToken}' : functionAppName
  storage: empty(storageAccountName) ? '${abbrs.storageStorageAccounts}${resourceToken}' : storageAccountName
  keyVault: empty(keyVaultName) ? '${abbrs.keyVaultVaults}${resourceToken}' : keyVaultName
  cosmos: empty(cosmosAccountName) ? '${abbrs.documentDBDatabaseAccounts}${resourceToken}' : cosmosAccountName
  logAnalytics: empty(logAnalyticsName) ? '${abbrs.operationalInsightsWorkspaces}${resourceToken}' : logAnalyticsName
  appInsights: empty(applicationInsightsName) ? '${abbrs.insightsComponents}${resourceToken}' : applicationInsightsName
  scheduler: empty(durableTaskSchedulerName) ? '${abbrs.durableTaskSchedulers}${resourceToken}' : durableTaskSchedulerName
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: guardedLocation
  tags: tags
}

module identity './core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: guardedLocation
    tags: tags
  }
}

module monitoring './core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.appInsights
    location: guardedLocation
    tags: tags
    principalId: identity.outputs.principalId
    identityId: identity.outputs.id
  }
}

module storage './core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: guardedLocation
    tags: tags
    principalId: identity.outputs.principalId
    identityId: identity.outputs.id
  }
}

module keyVault './core/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: names.keyVault
    location: guardedLocation
    tags: tags
    publicNetworkAccess: keyVaultPublicNetworkAccess
    networkDefaultAction: keyVaultNetworkDefaultAction
    principalId: identity.outputs.principalId
    identityId: identity.outputs.id
    setupCode: setupCode
    deployerObjectId: deployerObjectId
  }
}

module cosmos './core/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: names.cosmos
    location: guardedLocation
    tags: tags
    principalId: identity.outputs.principalId
    identityId: identity.outputs.id
  }
}

module scheduler './core/durable-task-scheduler.bicep' = if (useDurableTaskScheduler) {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: names.scheduler
    taskHubName: taskHubName
    location: guardedLocation
    tags: tags
    principalId: identity.outputs.principalId
    identityId: identity.outputs.id
  }
}

module api './app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    planName: names.plan
    name: names.functionApp
    location: guardedLocation
    tags: union(tags, { 'azd-service-name': 'api' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    taskHubName: taskHubName
    keyVaultUrl: keyVault.outputs.uri
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    durableTaskSchedulerEndpoint: useDurableTaskScheduler ? scheduler.outputs.endpoint : ''
    packageUri: packageUri
    setupCodeUri: keyVault.outputs.setupCodeUri
    entraClientId: entraClientId
    entraTenantId: empty(entraTenantId) ? subscription().tenantId : entraTenantId
  }
}

// azd reads these into the environment (.azure/<env>/.env).
output AZURE_LOCATION string = guardedLocation
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_APP_URL string = api.outputs.url
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TASKHUB_NAME string = taskHubName
output DURABLE_STORAGE_BACKEND string = useDurableTaskScheduler ? 'azureManaged' : 'AzureStorage'
output KEY_VAULT_URL string = keyVault.outputs.uri
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
// Where the school goes next: the console, served by the app itself, and its setup page,
// which takes the one-time code from the Key Vault secret.
output CONVERGIO_CONSOLE_URL string = api.outputs.consoleUrl
output CONVERGIO_SETUP_URL string = api.outputs.setupUrl
output SETUP_CODE_LOCATION string = 'Key Vault ${names.keyVault} > Objects > Secrets > ${keyVault.outputs.setupCodeName}'
output ENTRA_REDIRECT_URI string = api.outputs.entraRedirectUri
output NEXT_STEPS string = empty(packageUri) ? 'No package was deployed: run `azd deploy` (or `func azure functionapp publish ${api.outputs.name}`). Then read the one-time setup code in the Azure portal (Key Vault ${names.keyVault} > Objects > Secrets > convergio-setup-code > current version > Show Secret Value) and enter it at ${api.outputs.setupUrl}.' : '1. Read the one-time setup code in the Azure portal: Key Vault ${names.keyVault} > Objects > Secrets > convergio-setup-code > current version > Show Secret Value (the deployer may read that secret). 2. Open ${api.outputs.setupUrl}, enter the code and name your school: you become its first admin, and the code stops working. 3. In the console add your AI provider key (Connections), then create teacher keys (Keys) and invite members (Members). Microsoft sign-in: register an app with redirect URI ${api.outputs.entraRedirectUri} and deploy again with entraClientId. See infra/README.md.'
