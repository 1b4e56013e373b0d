"""Chat arena core: conversations, model slots, blind shuffling and the feedback file.

Nothing here imports gradio; the Chat tab (studio/ui/chat_tab.py) and `studio chat` are faces over it.
"""
