"""The event contract and configuration shared by every stage; imports none of them."""
