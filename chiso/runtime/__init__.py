"""The local machinery a deployment runs on: the warehouse server (embedded or external) with
its roles and bootstrap, the secrets generated for the embedded default, and the processes
chiso starts itself (the source simulator in the demo)."""
