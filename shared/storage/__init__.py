"""Storage adapters (Azure Queues and Tables). Services depend on these through small interfaces."""
