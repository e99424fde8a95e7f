"""The headless core: every rule and every mutation, over the store and the modules.

Its modules stand in layers; each imports only from the layers below it (never from its own
by a circle, never by an import hidden in a function). Enforced by the `core is layered`
contract in pyproject.toml ([tool.importlinter]). From the top:

1. automation, worker, customer: the automation run; the job worker; the customer area's core
2. reconcile: billing compared with what the panels hold, and its fixes applied as bulk runs
3. bulk: bulk runs
4. automation_lifecycle, automation_steps: the automation's steps over services (3 to 6; 0 to 2 and what every step reads)
5. jobs, job_queue, orders, health, order_approval, abuse: module jobs run; the queue as an admin sees it; orders and payments (which perform actions); health and run records; a paid order's delivery and its approval; abuse reports and the abuse limit
6. actions: the registry of every action, `perform` / `perform_many`, jobs queued and their results applied
7. service_actions, invoices, upgrades, resync, order_actions: each action's check and apply (the status table's, renew-invoice, upgrade, reconcile's fixes, an order paid or cancelled)
8. notifications, records, delivery, renew_checks, drift_compare: customer mails; create, import, edit, metadata, options; panel resources; what renewing now checks; billing compared with what a panel holds (reconcile's six kinds)
9. action_base, renewals, invoice_lookups, panel_listing: what an action is made of; renewal amounts and limits; invoices as they stand; the panels to reconcile and what each holds
10. lookups, mailer, seed, metadata_keys: reading services; sending mail; demo data; the metadata keys an admin may set
11. catalog, settings, context, filters: customers, products, servers; settings; the list filters
12. operators: who may do what
13. activity, leases, parse, secrets, renewal_limits, status_override: the activity log; named leases; input parsing; secrets at rest; renewal limits in force; what a status override leaves
14. clock, cycles, errors, statuses, logs, ratelimit, views, job_claims, automation_report
"""
