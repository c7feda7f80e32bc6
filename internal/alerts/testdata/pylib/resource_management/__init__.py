# Minimal stand-in for the stack library's resource_management package:
# only the names the alert framework touches (Script.config, Environment,
# curl_krb_request), so tests can check how the helper calls them.
