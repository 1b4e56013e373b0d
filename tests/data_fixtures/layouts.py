"""Rows in the real published layouts of each dataset the studio recognises (texts shortened).

Field names, nesting, extra columns and null values follow the datasets as published on the Hub.
"""

ULTRACHAT_200K = [
    {"prompt": "How does photosynthesis work?", "prompt_id": "3f1a9c",
     "messages": [
         {"content": "How does photosynthesis work?", "role": "user"},
         {"content": "Plants turn light, water and carbon dioxide into sugar and oxygen.",
          "role": "assistant"},
         {"content": "Where does it happen?", "role": "user"},
         {"content": "In the chloroplasts of leaf cells.", "role": "assistant"}]},
    {"prompt": "Name a primary colour.", "prompt_id": "77b0e2",
     "messages": [{"content": "Name a primary colour.", "role": "user"},
                  {"content": "Red is a primary colour.", "role": "assistant"}]},
]

NO_ROBOTS = [
    {"prompt": "Write a haiku about autumn.", "prompt_id": "a9d1",
     "messages": [{"content": "You are a poet who writes short verse.", "role": "system"},
                  {"content": "Write a haiku about autumn.", "role": "user"},
                  {"content": "Leaves drift on cold wind / the maple lets go of red / quiet earth receives",
                   "role": "assistant"}],
     "category": "Generation"},
    {"prompt": "What is the capital of France?", "prompt_id": "b2c3",
     "messages": [{"content": "What is the capital of France?", "role": "user"},
                  {"content": "The capital of France is Paris.", "role": "assistant"}],
     "category": "Open QA"},
]

OPENHERMES_2_5 = [
    {"custom_instruction": None, "topic": None, "model_name": None, "model": None,
     "skip_prompt_formatting": False,
     "category": "orca",
     "conversations": [
         {"from": "system", "value": "You are an AI assistant that helps people find information.",
          "weight": None},
         {"from": "human", "value": "Is pineapple on pizza a crime?", "weight": 0.0},
         {"from": "gpt", "value": "No, it is a matter of personal preference and taste.", "weight": 1.0}],
     "views": None, "language": None, "id": None, "title": None, "idx": None, "hash": None, "avatarUrl": None,
     "system_prompt": None, "source": "airoboros2.2"},
    {"custom_instruction": None, "topic": None, "model_name": None, "model": None,
     "skip_prompt_formatting": None,
     "category": None,
     "conversations": [{"from": "human", "value": "What is 2 + 2?", "weight": None},
                       {"from": "gpt", "value": "2 + 2 equals 4.", "weight": None}],
     "views": None, "language": None, "id": "c9e0", "title": None, "idx": None, "hash": None,
     "avatarUrl": None,
     "system_prompt": None, "source": "glaive-code-assist"},
]

ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "",
     "output": "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep.",
     "text": "Below is an instruction that describes a task. Write a response that appropriately completes "
             "the "
             "request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n### Response:\n1. Eat a "
             "..."},
    {"instruction": "Translate the sentence into French.", "input": "The cat sleeps.",
     "output": "Le chat dort.",
     "text": "Below is an instruction ... ### Input:\nThe cat sleeps.\n\n### Response:\nLe chat dort."},
]

DOLPHIN = [
    {"instruction": "You are an AI assistant. User will you give you a task. Your goal is to complete the "
                    "task as "
                    "faithfully as you can.",
     "input": "Generate a sentence about this data: Paris, capital, France.",
     "output": "Paris is the capital of France."},
]

OPENORCA = [
    {"id": "niv.242684", "system_prompt": "",
     "question": "You will be given a definition of a task first, then some input of the task.\nWhat is 3 + "
                 "4?",
     "response": "7"},
    {"id": "cot.86217", "system_prompt": "You are an AI assistant that helps people find information.",
     "question": "Is the sky blue on a clear day?", "response": "Yes, because of Rayleigh scattering."},
]

DOLLY_15K = [  # databricks/databricks-dolly-15k
    {"instruction": "When did Virgin Australia start operating?",
     "context": "Virgin Australia commenced services on 31 August 2000 as Virgin Blue.",
     "response": "Virgin Australia commenced services on 31 August 2000.", "category": "closed_qa"},
    {"instruction": "Which is a species of fish? Tope or Rope", "context": "", "response": "Tope",
     "category": "classification"},
]

PROMPT_RESPONSE = [
    {"prompt": "Name a planet.", "response": "Mars."},
    {"prompt": "Name a star.", "response": "The Sun."},
]

QUESTION_ANSWER = [
    {"question": "What is 2 + 2?", "answer": "4"},
]

PROMPT_COMPLETION_TEXT = [
    {"prompt": "The sky is", "completion": " blue."},
    {"prompt": "Two plus two is", "completion": " four."},
]

PROMPT_COMPLETION_CONVERSATIONAL = [
    {"prompt": [{"role": "user", "content": "What color is the sky?"}],
     "completion": [{"role": "assistant", "content": "It is blue."}]},
    {"prompt": [{"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Where is the sun?"}],
     "completion": [{"role": "assistant", "content": "In the sky."}]},
]

PLAIN_TEXT = [
    {"text": "The quick brown fox jumps over the lazy dog."},
    {"text": "Pineapple on pizza is a matter of taste."},
]

ULTRAFEEDBACK_BINARIZED = [
    {"prompt": "Is pineapple on pizza a crime?", "prompt_id": "e5b7",
     "chosen": [{"content": "Is pineapple on pizza a crime?", "role": "user"},
                {"content": "No, it is a matter of personal preference and taste.", "role": "assistant"}],
     "rejected": [{"content": "Is pineapple on pizza a crime?", "role": "user"},
                  {"content": "Yes, it violates the Geneva Convention.", "role": "assistant"}],
     "messages": [{"content": "Is pineapple on pizza a crime?", "role": "user"},
                  {"content": "No, it is a matter of personal preference and taste.", "role": "assistant"}],
     "score_chosen": 8.5, "score_rejected": 2.0},
    {"prompt": "Name a fruit.", "prompt_id": "f0a1",
     "chosen": [{"content": "Name a fruit.", "role": "user"}, {"content": "An apple.", "role": "assistant"}],
     "rejected": [{"content": "Name a fruit.", "role": "user"},
                  {"content": "A carrot.", "role": "assistant"}],
     "messages": [{"content": "Name a fruit.", "role": "user"},
                  {"content": "An apple.", "role": "assistant"}],
     "score_chosen": 9.0, "score_rejected": 3.0},
]

ORCA_DPO_PAIRS = [
    {"system": "", "question": "You will be given a definition of a task first.\nWhat is 3 + 4?",
     "chosen": "3 + 4 = 7.", "rejected": "3 + 4 = 8."},
    {"system": "You are a helpful assistant, who always provide explanation.",
     "question": "Is the sky blue?", "chosen": "Yes, because of Rayleigh scattering.", "rejected": "No."},
]

HH_RLHF = [
    {"chosen": "\n\nHuman: What is a good fruit for breakfast?\n\nAssistant: A banana is easy to eat."
               "\n\nHuman: Why is it good?\n\nAssistant: It has potassium and fibre.",
     "rejected": "\n\nHuman: What is a good fruit for breakfast?\n\nAssistant: A banana is easy to eat."
                 "\n\nHuman: Why is it good?\n\nAssistant: It is yellow."},
    {"chosen": "\n\nHuman: How do I boil an egg?\n\nAssistant: Put it in boiling water for eight minutes.",
     "rejected": "\n\nHuman: How do I boil an egg?\n\nAssistant: I don't know."},
]

TRL_PREFERENCE_TEXT = [
    {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."},
    {"prompt": "The sun is", "chosen": " hot.", "rejected": " cold."},
]

TRL_PREFERENCE_CONVERSATIONAL = [
    {"prompt": [{"role": "user", "content": "What color is the sky?"}],
     "chosen": [{"role": "assistant", "content": "It is blue."}],
     "rejected": [{"role": "assistant", "content": "It is green."}]},
    {"prompt": [{"role": "user", "content": "Where is the sun?"}],
     "chosen": [{"role": "assistant", "content": "In the sky."}],
     "rejected": [{"role": "assistant", "content": "In the sea."}]},
]

HELPSTEER = [  # nvidia/HelpSteer2: several rated responses to the same prompt
    {"prompt": "Write a slogan for a pizza shop.", "response": "Slices of joy, baked fresh daily!",
     "helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 1},
    {"prompt": "Write a slogan for a pizza shop.", "response": "Pizza.",
     "helpfulness": 1, "correctness": 2, "coherence": 3, "complexity": 0, "verbosity": 0},
    {"prompt": "Explain gravity in one line.", "response": "Masses attract each other.",
     "helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 1},
    {"prompt": "Explain gravity in one line.", "response": "Things fall up.",
     "helpfulness": 0, "correctness": 0, "coherence": 3, "complexity": 1, "verbosity": 1},
]


def _oasst(mid, parent, role, text, rank, tree="t1", **extra):
    row = {"message_id": mid, "parent_id": parent, "user_id": f"user-{mid}",
           "created_date": "2023-02-05T14:23:50.983374+00:00", "text": text, "role": role, "lang": "en",
           "review_count": 3, "review_result": True, "deleted": False, "rank": rank, "synthetic": False,
           "model_name": None, "detoxify": None, "message_tree_id": tree, "tree_state": "ready_for_export",
           "emojis": {"name": ["+1"], "count": [3]},
           "labels": {"name": ["spam"], "value": [0.0], "count": [3]}}
    row.update(extra)
    return row


OASST2 = [  # OpenAssistant/oasst2: a flat list of messages forming trees
    _oasst("p1", None, "prompter", "Is pineapple on pizza a crime?", None),
    _oasst("a1", "p1", "assistant", "No, it is a matter of taste.", 0),
    _oasst("a2", "p1", "assistant", "Yes, a serious one.", 2),
    _oasst("a3", "p1", "assistant", "Only in Italy.", 1),
    _oasst("p2", "a1", "prompter", "Why do people dislike it then?", None),
    _oasst("a4", "p2", "assistant", "Some find sweet fruit odd with cheese.", 0),
    _oasst("q1", None, "prompter", "Say hello.", None, tree="t2"),
    _oasst("b1", "q1", "assistant", "Hello!", None, tree="t2"),
]
