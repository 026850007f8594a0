"""The scoring server the AKS image runs, served locally by the same server (Azure ML's ``azmlinfsrv``).

- :mod:`.environment`: the isolated virtualenv the server and the model's own packages run in.
- :mod:`.server`: start the build's entry script on 127.0.0.1 and stop it again.
- :mod:`.secrets`: the deployment's Key Vault secrets for a local run.
- :mod:`.traffic_input`: read a traffic file and check its rows against the model.
- :mod:`.traffic`: replay traffic against the server.

Nothing here is imported by ``validate``, ``build`` or ``plan``; each module imports its heavy
dependencies (pandas, requests, yaml) inside the functions that need them where it can.
"""
