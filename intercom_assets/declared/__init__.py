"""The registry's entries, by concern: the API passes most tables share (`sources`), the builders of the
usual kinds of entry (`build`), and the tables of the newer 2.16 resources (`engagement`, `configuration`).
`intercom_assets/tables.py` assembles them into TABLES."""
