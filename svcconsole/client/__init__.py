"""The customer area (`svcconsole client`): one customer's services, on the widgets it shares with the admin console."""

from svcconsole.client.app import ClientApp, run_client

__all__ = ["ClientApp", "run_client"]
