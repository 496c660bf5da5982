"""The read side: the index a question is answered from, and what builds its vectors."""
