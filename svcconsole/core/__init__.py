"""The headless core: every rule and every mutation, over the store and the modules.

Its modules stand in layers; each imports only from the layers below it (never from its own
by a circle, never by an import hidden in a function). Enforced by the `core is layered`
contract in pyproject.toml ([tool.importlinter]). From the top:

1. automation, worker, customer_actions: the automation run; the job worker; the changes a customer makes in the customer area
2. customer: what a customer sees in the customer area
3. reconcile: billing compared with what the panels hold, and its fixes applied as bulk runs
4. bulk: bulk runs
5. automation_lifecycle, automation_steps: the automation's steps over services (3 to 6; 0 to 2 and what every step reads)
6. jobs, job_queue, orders, health: module jobs run; the queue as an admin sees it; orders and payments (which perform actions); health and run records
7. actions: the registry of every action, `perform` / `perform_many`, jobs queued and their results applied
8. service_actions, invoices, upgrades, resync: each action's check and apply (the status table's, renew-invoice, upgrade, reconcile's fixes)
9. notifications, records, delivery, renew_checks, drift_compare, placement: customer mails; create, import, edit, metadata, options; panel resources; what renewing now checks; billing compared with what a panel holds (reconcile's six kinds); the server a delivery goes to and its room
10. action_base, renewals, invoice_lookups, panel_listing: what an action is made of; renewal amounts and limits; invoices as they stand; the panels to reconcile and what each holds
11. lookups, mailer, seed, metadata_keys: reading services; sending mail; demo data; the metadata keys an admin may set
12. catalog, settings, context, filters, seed_catalog: customers, products, servers; settings; the list filters; the demo's fixed data
13. operators: who may do what
14. activity, leases, parse, secrets, renewal_limits, status_override: the activity log; named leases; input parsing; secrets at rest; renewal limits in force; what a status override leaves
15. clock, cycles, errors, statuses, logs, ratelimit, views, job_claims, automation_report
"""
