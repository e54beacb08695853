"""What a message looks like: sandboxed templates, the email layout, plain text, SMS."""
