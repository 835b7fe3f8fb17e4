"""chiso: a data warehouse for Vietnamese provincial digital-transformation indicators."""
