"""Pulumi ESC from the program and the tools, through the official ``pulumi-esc-sdk``.

``client`` builds an authenticated client (the CLI's credentials), reads definitions as ESC stores
them (secrets as ciphertext, never decrypted) and turns API errors into one line;
``credential_environment`` is the dynamic resource that keeps the application credential in ESC.
"""
