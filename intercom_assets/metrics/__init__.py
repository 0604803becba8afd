"""The support metrics: a dbt project over the lake (dbt_project/) and its Dagster assets (assets.py)."""

import warnings

# dagster-dbt imports sqlglot, which imports the sqlglotrs package its own extra installs and then warns, on every
# process that loads the code location, that sqlglotrs is deprecated: nothing a user of this project can act on.
warnings.filterwarnings("ignore", message="sqlglotrs is deprecated", category=DeprecationWarning)
