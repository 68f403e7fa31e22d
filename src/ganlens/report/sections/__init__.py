"""The demo report's sections, one module per area; each section is `fn(ctx, report, section)`."""
