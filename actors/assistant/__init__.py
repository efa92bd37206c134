"""The voice assistant: commands, and (to come) the conversation it answers."""
