"""The customer area (`svcconsole client`): one customer's services, on the admin console's screens and widgets."""

from svcconsole.client.app import ClientApp, run_client

__all__ = ["ClientApp", "run_client"]
