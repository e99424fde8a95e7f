"""The headless core: every rule and every mutation, over the store and the modules.

Its modules stand in layers; each imports only from the layers below it (never from its own
by a circle, never by an import hidden in a function). Enforced by the `core is layered`
contract in pyproject.toml ([tool.importlinter]). From the top:

1. automation, worker, customer_actions: the automation run; the job worker; the changes a customer makes in the customer area
2. customer: what a customer sees in the customer area
3. reconcile: billing compared with what the panels hold, and its fixes applied as bulk runs
4. bulk: bulk runs
5. automation_lifecycle, automation_steps: the automation's steps over services (3 to 6; 0 to 2 and what every step reads)
6. jobs, job_queue, orders, health, order_approval, abuse: module jobs run; the queue as an admin sees it; orders and payments (which perform actions); health and run records; a paid order's delivery and its approval; abuse reports and the abuse limit
7. actions: the registry of every action, `perform` / `perform_many`, jobs queued and their results applied
8. transfers: a service given to another customer (billing, the panel's owner, the old owner's unpaid lines)
9. service_actions, invoices, upgrades, resync, credentials, order_actions, option_actions, tickets: each action's check and apply (the status table's, renew-invoice, upgrade, reconcile's fixes, an order paid or cancelled, an option from the catalogue); provisioned logins shown and reset; tickets about a service between its customer and the staff
10. notifications, records, delivery, renew_checks, drift_compare, profiles, placement, usage: customer mails; create, import, edit, metadata, options; panel resources; what renewing now checks; billing compared with what a panel holds (reconcile's six kinds); a customer's profile; the server a delivery goes to and its room; usage per billing period, read from the panels or recorded, and the overage line of a closed period
11. action_base, renewals, invoice_lookups, panel_listing: what an action is made of; renewal amounts and limits; invoices as they stand; the panels to reconcile and what each holds
12. lookups, mailer, seed, metadata_keys, logins: reading services; sending mail; demo data; the metadata keys an admin may set; a service's provisioned login at rest
13. catalog, settings, context, filters, seed_catalog, option_catalog: customers, products, servers; settings; the list filters; the demo's fixed data; the products' configurable options
14. operators: who may do what
15. activity, leases, parse, secrets, renewal_limits, status_override, i18n, config, export, overage, mail_templates: the activity log; named leases; input parsing; secrets at rest; renewal limits in force; what a status override leaves; the languages a customer reads; the admin's config.toml and the console's saved views; every service a filter matches written to CSV or JSON in pages; metered resources and what their overage costs; mail templates as files, rendered in the sandbox
16. clock, cycles, errors, statuses, logs, ratelimit, views, job_claims, automation_report, paths (the user config directory)
"""
