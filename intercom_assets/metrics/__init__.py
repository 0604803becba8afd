"""The support metrics: a dbt project over the lake (dbt_project/) and its Dagster assets (assets.py).

assets.py imports dagster-dbt and dbt-core, about a second of CPU at every start of a process that loads the code
location (each run's worker too): the code location imports it only when it serves the metrics
(INTERCOM_SUPPORT_METRICS), and this package's own names stay free of it.
"""

import warnings

# dagster-dbt imports sqlglot, which imports the sqlglotrs package its own extra installs and then warns, on every
# process that loads the code location, that sqlglotrs is deprecated: nothing a user of this project can act on.
warnings.filterwarnings("ignore", message="sqlglotrs is deprecated", category=DeprecationWarning)

METRICS_DIR = "metrics"  # {root}/metrics/<model>/part-0.parquet (dbt_project/macros/lake.sql)
