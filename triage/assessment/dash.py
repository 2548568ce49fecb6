"""The DASH risk identification checklist (domestic abuse, stalking and harassment): 24
questions; the score is how many are answered yes (pure data, DESIGN 7: 0-9 standard, 10-13
medium, 14 or more high). Worded here for the triage unit; "they" is the person causing harm.
"""

QUESTIONS = (
    "Has the current incident resulted in injury?",
    "Is the victim very frightened?",
    "Is the victim afraid of further injury or violence?",
    "Does the victim feel isolated from family or friends?",
    "Is the victim feeling depressed or having suicidal thoughts?",
    "Has the victim separated or tried to separate from them within the past year?",
    "Is there conflict over child contact?",
    "Do they constantly text, call, contact, follow, stalk or harass the victim?",
    "Is the victim pregnant or have they recently had a baby?",
    "Is the abuse happening more often?",
    "Is the abuse getting worse?",
    "Do they try to control everything the victim does, or are they excessively jealous?",
    "Have they ever used weapons or objects to hurt the victim?",
    "Have they ever threatened to kill the victim or someone else, and were they believed?",
    "Have they ever attempted to strangle, choke, suffocate or drown the victim?",
    "Do they do or say things of a sexual nature that make the victim feel bad or hurt them?",
    "Is there any other person who has threatened the victim or whom they are afraid of?",
    "Have they hurt anyone else, as far as the victim knows?",
    "Have they ever mistreated an animal or the family pet?",
    "Are there any financial issues, such as dependence on them for money?",
    "Have they had problems in the past year with drugs, alcohol or mental health?",
    "Have they ever threatened or attempted suicide?",
    "Have they ever broken bail, an injunction or a formal agreement?",
    "Have they ever been in trouble with the police, or have a criminal history?",
)


def score(answers: dict[int, str]) -> int:
    """The DASH score: the number of questions (numbered from 1) answered yes."""
    return sum(1 for number, answer in answers.items() if answer == "yes" and 1 <= number <= 24)
