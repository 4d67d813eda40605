"""Storage service clients built from settings: connection string locally, managed identity in Azure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueServiceClient

    from shared.settings import Settings


def queue_service(settings: Settings) -> QueueServiceClient:
    from azure.storage.queue import QueueServiceClient

    if settings.storage_connection is not None:
        return QueueServiceClient.from_connection_string(settings.storage_connection.get_secret_value())
    from azure.identity import DefaultAzureCredential

    assert settings.storage_queue_uri
    return QueueServiceClient(settings.storage_queue_uri, credential=DefaultAzureCredential())


def table_service(settings: Settings) -> TableServiceClient:
    from azure.data.tables import TableServiceClient

    if settings.storage_connection is not None:
        return TableServiceClient.from_connection_string(settings.storage_connection.get_secret_value())
    from azure.identity import DefaultAzureCredential

    assert settings.storage_table_uri
    return TableServiceClient(endpoint=settings.storage_table_uri, credential=DefaultAzureCredential())
