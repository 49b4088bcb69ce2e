"""What the drafter knows: shop settings, policies and notices, the retrieval index, live orders."""
