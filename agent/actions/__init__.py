"""Action backends: where a service's remediations run. One small interface (`ActionBackend`), one
module per kind; the service catalog says which backend each service uses and what it may run there."""
