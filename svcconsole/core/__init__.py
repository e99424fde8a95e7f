"""The headless core: every rule and every mutation, over the store and the modules.

Its modules stand in layers; each imports only from the layers below it (never from its own
by a circle, never by an import hidden in a function). Enforced by the `core is layered`
contract in pyproject.toml ([tool.importlinter]). From the top:

1. automation, worker, bulk, customer: runs over many services, and the customer area's core
2. jobs, orders, health: module jobs run; orders and payments (which perform actions); run records
3. actions: the registry of every action, `perform` / `perform_many`, jobs queued and applied
4. service_actions, invoices, upgrades: each action's check and apply (status table, renew-invoice, upgrade)
5. notifications, records, delivery: customer mails; create, import, edit; panel resources
6. action_base, renewals, invoice_lookups: what an action is made of; renewal amounts and limits; invoices as they stand
7. lookups, mailer, seed: reading services; sending mail; demo data
8. catalog, settings, context, filters: customers, products, servers; settings; the list filters
9. operators: who may do what
10. activity, leases, parse, secrets: the activity log; named leases; input parsing; secrets at rest
11. clock, cycles, errors, statuses, logs, ratelimit, views, job_claims, automation_report
"""
