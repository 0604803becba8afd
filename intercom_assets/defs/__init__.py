"""One folder per Intercom workspace, each with a `defs.yaml` (`type: intercom_assets.IntercomWorkspace`); with
none, the INTERCOM_* variables define the one workspace (see README, "Several workspaces")."""
