"""Provider API families (OpenAI, Anthropic, Gemini), translation between them, and the simulator."""
