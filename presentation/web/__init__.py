"""The Gradio web chat (imported lazily: Gradio takes seconds to load)."""
