// Cosmos DB for NoSQL, serverless (schools pay per request, nothing when idle).
// Keys are off (disableLocalAuth): the app uses its identity and the built-in data role.
param name string
param location string
param tags object

@description('Principal that reads and writes the data (the function app identity).')
param principalId string

@description('Resource id of that identity: role assignment names are guid(scope id, identityId, role id), computed the same way in azuredeploy.json.')
param identityId string

param databaseName string = 'convergio'

// Cosmos DB Built-in Data Contributor (a Cosmos SQL role, not an Azure RBAC role)
var cosmosDataContributor = '00000000-0000-0000-0000-000000000002'

// The shared control plane (convergio/controlplane CONTAINERS; tests/infra checks the list):
// usage (the ledger), tenants (tenants, key digests, principals, run index, connections, MCP
// servers), quotas, webhooks, streams (SSE events), plugins (metadata, plugin kv), secrets
// (AES-GCM ciphertext when there is no Key Vault). All partitioned by /tenant_id.
var containerNames = [
  'usage'
  'tenants'
  'quotas'
  'webhooks'
  'streams'
  'plugins'
  'secrets'
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  // checkov:skip=CKV_AZURE_99: no IP filter: the app has no fixed outbound IP without a VNet; keys are off, Entra ID only
  // checkov:skip=CKV_AZURE_101: public endpoint needed by the app without a VNet; disableLocalAuth means Entra ID only
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for containerName in containerNames: {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          '/tenant_id'
        ]
        kind: 'Hash'
        version: 2
      }
    }
  }
}]

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, identityId, cosmosDataContributor)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${cosmosDataContributor}'
    principalId: principalId
    scope: account.id
  }
}

output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
