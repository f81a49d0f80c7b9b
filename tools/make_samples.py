"""Write the bundled tiny-profile samples: synthetic, project-written text only.

Run ``python tools/make_samples.py`` to regenerate every file below
``shared/gpt2ft/samples/`` (except its README.md). Templates, word lists and one
fixed seed: the same script always writes the same bytes. Nothing here is taken
from the real data sets; each file only copies the raw *format* of its real
counterpart, so the loaders in ``gpt2ft.session.data`` read both with one parser. See
``shared/gpt2ft/samples/README.md``.
"""

from __future__ import annotations

import csv
import io
import json
import random

from gpt2ft.core.paths import SAMPLES_DIR

SEED = 1234


def pick(rng: random.Random, options):
    return rng.choice(options)


def fill(rng: random.Random, template: str, words: dict[str, list[str]]) -> str:
    """``template`` with every ``{key}`` replaced by a random entry of ``words[key]``."""
    out = template
    while "{" in out:
        start = out.index("{")
        key = out[start + 1:out.index("}", start)]
        out = out[:start] + pick(rng, words[key]) + out[out.index("}", start) + 1:]
    return out


def unique(rng: random.Random, make, count: int, seen: set | None = None) -> list:
    """``count`` distinct results of ``make(rng)`` (templates repeat; rows should not).

    ``seen`` carries over between calls, e.g. so no sentence is in two files.
    """
    seen, out = set() if seen is None else seen, []
    while len(out) < count:
        item = make(rng)
        key = item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def filled(rng: random.Random, templates: list[str], words: dict[str, list[str]], count: int,
           seen: set | None = None) -> list[str]:
    """``count`` distinct sentences, each a random template of ``templates`` filled from ``words``."""
    return unique(rng, lambda r: fill(r, pick(r, templates), words), count, seen)


def write(relative: str, text: str) -> None:
    path = SAMPLES_DIR / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    print(f"{relative}: {len(text.encode()):,} bytes")


# --- SMS: `ham|spam<TAB>text`, no header ---------------------------------------------------

SMS_WORDS = {
    "name": ["Sam", "Priya", "Tom", "Aisha", "Ben", "Mei", "Jonas", "Lucy", "Omar", "Kate"],
    "activity": ["the cinema", "football", "lunch", "the gym", "band practice", "the quiz",
                 "coffee", "the market", "revision", "dinner at Nan's"],
    "when": ["tonight", "tomorrow", "later", "on Friday", "this weekend", "after work",
             "at the weekend", "next week"],
    "item": ["milk", "bread", "my charger", "the keys", "some eggs", "your umbrella",
             "the blue folder", "a birthday card", "batteries"],
    "place": ["the station", "the library", "the cafe on King St", "the car park", "uni",
              "the bus stop", "your mum's", "the office"],
    "time": ["6", "7.30", "half 8", "noon", "5ish", "10", "quarter past 9"],
    "task": ["report", "essay", "washing up", "shopping list", "form", "slides", "homework"],
    "food": ["pizza", "curry", "pasta", "tacos", "soup", "a takeaway", "noodles"],
    "mins": ["5", "10", "15", "20"],
    "feel": ["knackered", "so full", "a bit ill", "really happy", "bored", "freezing"],
    "amount": ["500", "1000", "2000", "250", "5000", "750"],
    "prize": ["a new mobile phone", "a holiday for 2", "a 32in TV", "a music voucher",
              "an mp3 player", "a shopping spree"],
    "phone": ["09061701461", "09050003311", "08712300220", "09066612345", "08000930705"],
    "short": ["87121", "81010", "86688", "69876", "80062"],
    "cost": ["150", "50", "25", "100"],
    "date": ["midnight", "Sunday", "the 30th", "tomorrow", "Friday"],
}
HAM = [
    "Hey {name}, are we still on for {activity} {when}?",
    "Running {mins} mins late, sorry! Save me a seat.",
    "Can you pick up {item} on your way home?",
    "Ok, see you at {place} around {time}.",
    "Did you finish the {task} yet? {name} was asking.",
    "Thanks for {activity} yesterday, it was really nice.",
    "I'm at {place} now, where are you?",
    "Haha that's brilliant. Tell {name} I said hi",
    "Mum says dinner is at {time}, don't be late",
    "Can't talk now, in a meeting. Call you {when}.",
    "Happy birthday {name}! Hope you have a lovely day :)",
    "Do you want {food} or {food} {when}?",
    "Just got home, I'm {feel}. Speak {when}.",
    "lol no way. What did {name} say?",
    "Remember to bring {item} {when}.",
    "Sure, {time} works for me.",
    "Good luck with the {task} {when}!",
    "I left {item} at yours, can I grab it {when}?",
    "Are you coming to {activity} {when} or not?",
    "K. I'll meet you at {place}.",
    "\"{name} is driving\" she said, so we might be late",
    "Feeling {feel} today. Might skip {activity}.",
    "Where did you put {item}? Can't find it anywhere",
    "Yeah I'm up for {food} {when}. {name} too?",
]
SPAM = [
    "WINNER!! You have been selected to receive a £{amount} prize. Call {phone} now to "
    "claim. T&Cs apply.",
    "URGENT! Your mobile number has won {prize}! Text CLAIM to {short} to collect. "
    "{cost}p/msg",
    "FREE entry into our weekly draw to win {prize}. Txt WIN to {short}. 18+ only.",
    "Congratulations! You are awarded a £{amount} voucher. To claim call {phone} before "
    "{date}.",
    "You have 1 new voicemail. Please call {phone} to listen. Calls cost {cost}p/min.",
    "Get 5 FREE ringtones every week! Reply TONES to {short}. To stop send STOP.",
    "Your account has a pending cash reward of £{amount}. Claim now on {phone}, offer ends "
    "{date}.",
    "Final notice: you have WON {prize}! Call {phone} from a landline. {cost}p/min",
    "txt FREE to {short} for a chance to win £{amount} cash! Only {cost}p per txt. T&C apply",
    "SIX chances to win CASH! From £100 to £{amount}. Text WIN to {short}. Ends {date}.",
]


def sms_rows(rng: random.Random) -> str:
    ham = filled(rng, HAM, SMS_WORDS, 172)
    spam = filled(rng, SPAM, SMS_WORDS, 28)  # 14 % spam
    rows = [("ham", t) for t in ham] + [("spam", t) for t in spam]
    rng.shuffle(rows)
    return "".join(f"{label}\t{text}\n" for label, text in rows)


# --- SST-2: `sentence<TAB>label` with a header, lower-cased and tokenised ------------------

MOVIE = {
    "noun": ["film", "movie", "comedy", "drama", "thriller", "story", "picture", "romance",
             "documentary", "western"],
    "part": ["script", "cast", "plot", "dialogue", "pacing", "ending", "score", "camera work",
             "direction", "lead performance", "story", "humor"],
    "good": ["warm", "funny", "moving", "clever", "beautiful", "charming", "gripping", "tender",
             "smart", "delightful", "wonderful", "touching", "witty", "fresh", "lovely",
             "brilliant", "heartfelt", "gorgeous"],
    "bad": ["dull", "tedious", "clumsy", "boring", "lifeless", "predictable", "muddled", "flat",
            "tiresome", "dreadful", "pointless", "forgettable", "sloppy", "stale", "silly",
            "bland", "lazy", "messy"],
    "who": ["the director", "the writers", "the young cast", "its star", "the filmmakers"],
    "n": ["90", "100", "two hours", "120", "95"],
}
SST_POS = [
    "a {good} and {good} {noun}",
    "the {part} is {good} , and the {part} is even better",
    "{who} deliver a {good} {noun} that stays with you",
    "one of the most {good} {noun}s of the year",
    "it 's {good} , {good} and never less than {good}",
    "{good} performances and a {good} {part}",
    "a {good} {noun} with a {good} {part}",
    "you 'll leave the theater smiling",
    "{who} find something {good} in every scene",
    "an absolute joy , {good} from start to finish",
    "the rare {noun} that earns its {good} ending",
    "{good} , {good} and surprisingly {good}",
]
SST_NEG = [
    "a {bad} , {bad} mess",
    "the {part} is {bad} and the {part} is worse",
    "it 's hard to care about these {bad} characters",
    "{n} minutes of {bad} {noun}",
    "never rises above its {bad} {part}",
    "{who} waste a good cast on a {bad} {part}",
    "a {bad} {noun} that goes nowhere",
    "too {bad} to recommend and too {bad} to enjoy",
    "the {part} feels {bad} and the jokes fall flat",
    "{bad} , {bad} and far too long",
    "you 'll be checking your watch long before the {bad} ending",
    "a {bad} {noun} with a {bad} {part}",
]


def sst2_rows(rng: random.Random, n_pos: int, n_neg: int, seen: set) -> str:
    pos = filled(rng, SST_POS, MOVIE, n_pos, seen)
    neg = filled(rng, SST_NEG, MOVIE, n_neg, seen)
    rows = [(t, 1) for t in pos] + [(t, 0) for t in neg]
    rng.shuffle(rows)
    return "sentence\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows)


# --- IMDB: CSV `text,label`, multi-sentence reviews with <br /> ----------------------------

REVIEW = {
    **MOVIE,
    "title": ["The Long Harbour", "Paper Lanterns", "Night Train to Ostend", "Blue Orchard",
              "The Quiet Inspector", "Iron Meadow", "Last Call at Lou's", "Glass Mountain",
              "The Seventh Tenant", "Summer of Kites", "Red Signal", "A House in Winter"],
    "role": ["detective", "schoolteacher", "retired boxer", "young widow", "ship's cook",
             "small-town mayor", "nurse", "jazz pianist"],
    "actor": ["the lead actress", "the older actor", "the newcomer", "the villain",
              "the supporting cast"],
    "does": ["returns home after twenty years", "tries to save a failing bakery",
             "investigates a string of odd thefts", "falls for a travelling musician",
             "must choose between family and career"],
    "when": ["on a rainy Sunday", "at a festival", "on TV last night", "with my parents",
             "on a long flight", "at a late show"],
    "score_good": ["8/10", "9/10", "10/10", "Highly recommended.", "A must-see."],
    "score_bad": ["2/10", "3/10", "1/10", "Avoid.", "Save your money."],
}
REVIEW_NEUTRAL = [
    "I saw \"{title}\" {when}.",
    "The story follows a {role} who {does}.",
    "It runs a little under two hours.",
    "I had read nothing about it beforehand.",
    "It is set in a small coastal town, mostly in winter.",
]
REVIEW_POS = [
    "The performances are excellent, especially {actor} as the {role}.",
    "The {part} is {good} and the pacing never drags.",
    "Every frame looks {good}; the photography alone is worth the ticket.",
    "I laughed, I cried, and I would happily watch it again.",
    "It is a {good}, {good} {noun} that trusts its audience.",
    "By the end I was completely won over.",
    "This is the most {good} thing I have seen all year.",
    "The {part} surprised me in the best possible way.",
]
REVIEW_NEG = [
    "The acting is wooden and the dialogue is painfully {bad}.",
    "The {part} makes no sense and the ending is a cheap cop-out.",
    "I was bored after twenty minutes and kept checking my phone.",
    "It is a {bad}, {bad} {noun} that wastes a decent idea.",
    "Even {actor} cannot save material this {bad}.",
    "I honestly wanted to walk out halfway through.",
    "Everything about it feels {bad} and cheap.",
    "The {part} is so {bad} that I stopped caring who the {role} was.",
]


def review(rng: random.Random, positive: bool) -> str:
    body = REVIEW_POS if positive else REVIEW_NEG
    sentences = [fill(rng, pick(rng, REVIEW_NEUTRAL), REVIEW)]
    sentences += [fill(rng, t, REVIEW) for t in rng.sample(body, rng.randint(2, 4))]
    sentences.append(fill(rng, "{score_good}" if positive else "{score_bad}", REVIEW))
    cut = rng.randint(1, len(sentences) - 1)  # a paragraph break, as on the site
    return " ".join(sentences[:cut]) + "<br /><br />" + " ".join(sentences[cut:])


def imdb_rows(rng: random.Random) -> str:
    rows = [(t, 1) for t in unique(rng, lambda r: review(r, True), 96)]
    rows += [(t, 0) for t in unique(rng, lambda r: review(r, False), 104)]
    rng.shuffle(rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    return out.getvalue()


# --- Amazon snippets: TSV `text label score id` with a header ------------------------------

PRODUCT = {
    "product": ["phone", "camera", "router", "mp3 player", "headset", "charger", "keyboard",
                "speaker", "printer", "tablet"],
    "part": ["battery", "screen", "case", "button", "cable", "sound", "menu", "lens",
             "hinge", "software"],
    "n": ["two", "three", "six", "ten"],
    "good": ["superb", "great", "solid", "sharp", "fantastic", "reliable", "sturdy"],
    "bad": ["flimsy", "useless", "terrible", "dreadful", "cheap", "disappointing", "poor"],
}
AMAZON_POS = [
    "the {part} is {good} and it works perfectly.",
    "great value for the money.",
    "i love this {product}, best purchase this year.",
    "setup took two minutes and the {part} is {good}.",
    "the {part} lasts all day, very {good}.",
    "highly recommend this {product} to anyone.",
    "\"plug and play\" really is true for this {product}.",
    "{good} build quality and a {good} {part}.",
    "works exactly as described, i am very happy.",
    "my old {product} was never this {good}.",
]
AMAZON_NEG = [
    "it stopped working after {n} weeks.",
    "the {part} broke on the first day.",
    "customer support was {bad} and never replied.",
    "would not buy this {product} again.",
    "the {part} feels {bad} and the {part} is worse.",
    "returned it, the {part} was {bad}.",
    "a {bad} {product} that overheats constantly.",
    "\"easy to use\" my foot, the {part} is a nightmare.",
    "{bad} {part}, {bad} instructions, total waste of money.",
    "the {product} drops the connection every {n} minutes.",
]


def amazon_rows(rng: random.Random) -> str:
    pos = filled(rng, AMAZON_POS, PRODUCT, 118)
    neg = filled(rng, AMAZON_NEG, PRODUCT, 82)
    rows = [(t, 1, rng.uniform(0.25, 3.0)) for t in pos]
    rows += [(t, 0, -rng.uniform(0.25, 3.0)) for t in neg]
    rng.shuffle(rows)
    lines = ["text\tlabel\tscore\tid\n"]
    for i, (text, label, score) in enumerate(rows):
        lines.append(f"{text}\t{label}\t{score:.2f}\t{i // 10 + 1}_{i % 10 + 1}\n")
    return "".join(lines)


# --- A Shakespeare-like play: speaker names in capitals, verse lines ------------------------

PLAY = {
    "noun": ["crown", "heart", "sword", "grief", "banner", "moon", "tongue", "blood", "crow",
             "garland", "tempest", "dagger", "letter", "throne", "orchard", "winter"],
    "adj": ["fair", "cruel", "noble", "false", "gentle", "bitter", "sweet", "gilded", "proud",
            "wretched", "sullen", "constant", "wanton"],
    "verb": ["weep", "mock", "wake", "forsake", "pardon", "curse", "answer", "follow",
             "betray", "remember"],
    "verbs": ["weeps", "mocks", "wakes", "knocks", "sighs", "burns", "sleeps", "calls"],
    "place": ["Verona", "the north", "the court", "the sea", "Navarre", "the forest"],
    "title": ["my lord", "good cousin", "sweet lady", "sirrah", "noble sir", "my liege"],
    "oath": ["troth", "faith", "soul", "honour", "life"],
    "time": ["morning", "dawn", "the bell", "nightfall", "the tide turns"],
    "insult": ["knave", "varlet", "hedge-pig", "puppet", "scullion", "coxcomb"],
}
PLAY_LINES = [
    "O {noun}, thou art more {adj} than the {noun} of {place}!",
    "I prithee, {title}, {verb} me not so.",
    "What {noun} is this that {verbs} upon my {noun}?",
    "The {noun} doth {verb} us, and the {noun} {verbs}.",
    "Then let us hence, and {verb} the {noun} ere {time}.",
    "By my {oath}, 'tis a {adj} {noun}.",
    "Away, thou {adj} {insult}!",
    "Hark! the {noun} {verbs} at the gate.",
    "Nay, but hear me, {title}.",
    "If {noun} be {adj}, then I am {adj} indeed.",
    "Go to, go to; thou dost {verb} too much.",
    "My {noun} is {adj}, and yet I will not {verb}.",
    "Come, {title}, the {noun} is cold and {time} is near.",
    "Let him {verb} that will; I'll {verb} no more.",
    "So {adj} a {noun} was never seen in {place}.",
    "What say you, {title}? Shall we {verb} the {noun}?",
    "Methinks the {noun} is {adj} tonight.",
    "Fie upon thee! Thou hast a {adj} {noun} and a {adj} {noun}.",
    "Good morrow, {title}; what news from {place}?",
    "Thou know'st I love thee, though thou {verbs} me.",
    "I will, {title}.",
    "Peace, peace! here comes the {noun}.",
]
PLAYERS = [["DUKE ALDRIC", "LEONTIA", "CASSIO MORE", "FIRST WATCHMAN"],
           ["ROSALBA", "VALERIAN", "GREMIO HALE", "SECOND WATCHMAN", "PAGE"],
           ["KING OSRIC", "QUEEN DORALICE", "LORD BENVOLT", "MESSENGER"]]


def play_text(rng: random.Random, size: int) -> str:
    speeches = []
    while sum(len(s) for s in speeches) < size:
        cast = pick(rng, PLAYERS)
        for _ in range(rng.randint(6, 14)):  # one scene: the same few speakers
            lines = [fill(rng, t, PLAY) for t in rng.sample(PLAY_LINES, rng.randint(1, 4))]
            speeches.append(f"{pick(rng, cast)}:\n" + "\n".join(lines) + "\n\n")
    return "".join(speeches)


# --- A Wharton-like narrative: a first-person memoir of a painter and his circle -----------

STORY = {
    "name": ["Rowland Ashby", "Ned Carrow", "Philip Tredwell", "young Morland"],
    "lady": ["Mrs. Ashby", "Mrs. Carrow", "Lady Vane", "Miss Tredwell"],
    "place": ["Florence", "the Riviera", "Newport", "a villa above Cannes", "Fifth Avenue",
              "the Boulevard Haussmann"],
    "room": ["drawing-room", "studio", "library", "morning-room", "terrace"],
    "object": ["portrait", "unfinished canvas", "Venetian mirror", "sketch-book",
               "piano", "easel"],
    "adj": ["faint", "deliberate", "weary", "rueful", "tender", "polished",
            "careless", "nervous", "gracious"],  # no vowel first: they follow "a"
    "season": ["late spring", "grey November", "long summer", "first winter"],
    "feeling": ["envy", "pity", "relief", "curiosity", "embarrassment", "admiration"],
    "said": ["said", "murmured", "observed", "replied", "went on"],
    "remark": ["You never liked his pictures, did you?",
               "He was always happiest when he was not painting.",
               "People expected so much of him; it was very trying.",
               "I think he knew, at the end, what they were worth.",
               "We never speak of it now.", "You must see the last one before you go."],
}
STORY_SENTENCES = [
    "It was {name}'s habit, in that {season}, to receive his friends in the {room}, where "
    "the {object} stood half in shadow.",
    "{lady} {said}, with the {adj} smile that she kept for her husband's admirers, "
    "\"{remark}\"",
    "I confess that I felt a kind of {feeling} as I looked at the {object}.",
    "The {room} was full of a {adj} light, and the {object} seemed to take it all.",
    "He laughed, and the laugh had in it something {adj} that I could not place.",
    "We had met first in {place}, years before his marriage, when neither of us had a "
    "reputation to lose.",
    "\"{remark}\"--{lady} {said} it lightly, and I saw that she meant me to believe it.",
    "There was nothing in the {room} that had not been chosen, and nothing that had been "
    "chosen by him.",
    "I had come back to {place} meaning to stay a week, and I stayed through the {season}.",
    "The talk, of course, was all of {name}--of why he had given it up, and of the wife "
    "who had made it so easy for him to give it up.",
    "He showed me the {object} with a {adj} gesture, as a man shows a letter he has "
    "long since answered.",
    "It struck me then that {feeling} was the only feeling he had left to offer anyone.",
]


def story_text(rng: random.Random, size: int) -> str:
    paragraphs = []
    while sum(len(p) for p in paragraphs) < size:
        sentences = [fill(rng, t, STORY)
                     for t in rng.sample(STORY_SENTENCES, rng.randint(2, 5))]
        paragraphs.append(" ".join(sentences))  # one line a paragraph, like the book
    return "\n\n".join(paragraphs) + "\n"


# --- Plain modern expository prose: the tiny profile's "general text" control --------------

CONTROL = """\
How Bread Rises

Bread rises because yeast, a single-celled fungus, feeds on the sugars in flour and
releases carbon dioxide as it does so. Kneading develops gluten, a network of proteins
that stretches around the tiny bubbles of gas and traps them. The dough therefore swells
instead of simply letting the gas escape. Warmth speeds the process up and cold slows it
down, which is why many bakers leave dough in the refrigerator overnight when they want
more flavour and a slower rise. In the oven the gas expands, the yeast dies, and the
proteins and starches set into the familiar soft crumb.

Why Bicycles Stay Upright

A moving bicycle is easier to balance than a stationary one, but not mainly for the reason
people often give. The spinning wheels do act a little like gyroscopes, yet experiments with
specially built bicycles show that this effect is small. More important is the geometry of
the front fork. When the bicycle leans, the front wheel tends to turn into the lean, which
moves the contact point back under the rider. Riders also steer constantly without noticing,
making many small corrections every second.

How Libraries Organise Books

Most public libraries arrange their non-fiction using a classification scheme, so that books
on similar subjects sit together on the shelf. Each book receives a call number that begins
with a subject code and ends with letters taken from the author's name. Readers can then find
a book by its number, and they often discover useful neighbours beside it. Catalogues, once
kept on cards in wooden drawers, are now databases that can be searched by title, author,
subject or keyword from any computer.

Composting at Home

Composting turns kitchen and garden waste into a dark, crumbly material that improves soil.
Bacteria and fungi do most of the work, and they need air, moisture and a mix of materials.
Gardeners often speak of "greens", such as vegetable peelings and grass cuttings, which are
rich in nitrogen, and "browns", such as dry leaves and cardboard, which are rich in carbon.
A heap with too many greens becomes wet and smelly; one with too many browns barely changes.
Turning the heap every few weeks lets in air and speeds things up.

How a Refrigerator Keeps Food Cold

A refrigerator does not create cold. It moves heat from the inside of the cabinet to the room
outside. A liquid called a refrigerant evaporates in pipes inside the cabinet, and evaporation
absorbs heat. A compressor then squeezes the vapour, which raises its temperature, and pumps it
through coils at the back of the appliance, where it gives off heat and condenses back into a
liquid. The cycle repeats as long as the thermostat calls for cooling. This is why the back of
a refrigerator feels warm and why it needs space around it to work well.

Reading a Weather Forecast

A forecast that gives a seventy per cent chance of rain does not mean that it will rain for
seventy per cent of the day. It means that, in situations like this one, rain fell at a given
spot on about seven days out of ten. Forecasters build these numbers from computer models that
divide the atmosphere into a grid and calculate how air, heat and moisture will move. Because
small errors grow over time, forecasts for tomorrow are usually much more reliable than
forecasts for next week.

Why Aluminium Is Recycled

Recycling aluminium saves a great deal of energy. Producing the metal from ore requires large
amounts of electricity, while melting down used cans needs only a small fraction of that.
Aluminium can also be recycled again and again without losing its useful properties. Drink cans
are collected, shredded, cleaned of their coatings and melted into large blocks, which are
rolled into thin sheets and made into new cans. In many countries a can that is thrown into a
recycling bin can be back on a shop shelf within a couple of months.

How Sleep Helps Memory

Scientists have found that sleep plays an active part in memory. During deep sleep, the brain
appears to replay patterns of activity from the day, which helps to strengthen new memories and
link them to older ones. People who sleep after learning a list of words or a new skill usually
remember it better than people who stay awake for the same length of time. Regular sleep is
therefore not wasted study time. It is part of how learning becomes lasting.

How Tides Work

Tides are caused mainly by the pull of the Moon. Its gravity pulls slightly harder on the side
of the Earth facing it than on the far side, and this difference stretches the oceans into two
bulges. As the Earth turns, most coasts pass through both bulges each day, so they see two high
tides and two low tides. The Sun has a similar but weaker effect. When the Sun and Moon line up,
at new moon and full moon, their effects add together and produce larger tides, known as spring
tides.

Choosing a Password

A good password is long, unpredictable and used for only one account. Length matters more than
clever substitutions such as replacing a letter with a number, because attackers' software
already tries those tricks. A phrase made of several unrelated words is both long and fairly
easy to remember. Because most people have dozens of accounts, security advisers recommend a
password manager, a program that stores every password in an encrypted vault protected by one
strong master password. Turning on a second step of verification adds another layer of
protection.

How Vaccines Train the Immune System

A vaccine shows the immune system a harmless version or piece of a germ, so that the body can
learn to recognise it without suffering the disease. White blood cells respond by making
antibodies and by forming memory cells that remain in the body for years. If the real germ
arrives later, these memory cells recognise it quickly and the response is much faster and
stronger. Some vaccines need booster doses because the memory fades over time, or because the
germ itself changes.

How Maps Show Height

A flat map can show hills and valleys with contour lines, each of which joins points at the
same height above sea level. Where the lines are close together the ground is steep, and where
they are far apart it is gentle. Walkers learn to read them quickly: a set of closed rings marks
a hilltop, and lines that bend into a V shape usually point uphill along a stream valley. Many
maps add shading or colour as well, so that high ground stands out at a glance.

Why Leaves Change Colour

Leaves are green because they contain chlorophyll, the pigment that plants use to capture
sunlight. In autumn, as days shorten and nights grow cooler, many trees stop making chlorophyll
and break down what is left. Yellow and orange pigments that were present all summer are then
revealed. Some trees also produce new red pigments in the autumn, especially after sunny days and
cool nights. Eventually a layer of cells forms where the leaf joins the branch, and the leaf
falls.

How Batteries Store Energy

A battery stores energy in chemical form and releases it as electricity. Inside, two different
materials are separated by an electrolyte that lets charged particles move between them but
blocks electrons. When a device is connected, electrons flow through the outside circuit from
one material to the other, doing useful work on the way. In a rechargeable battery a charger
pushes the process backwards. Batteries slowly wear out because each cycle causes small changes
in the materials that reduce how much charge they can hold.

How Noise-Cancelling Headphones Work

Noise-cancelling headphones use small microphones to listen to the sound around the listener.
A chip inside the headphones then produces a second sound wave that is the mirror image of the
first, rising where the noise falls and falling where it rises. When the two waves meet, they
largely cancel each other out. The method works best on steady, low sounds such as the hum of an
engine, and less well on sudden or high-pitched sounds, which is why padding around the ear is
still important.

Why We Have Leap Years

The Earth takes about 365 and a quarter days to travel once around the Sun. A calendar of exactly
365 days would therefore drift by about a day every four years, and over centuries the seasons
would move through the months. Adding an extra day to February every fourth year corrects most of
the drift. Because the true figure is slightly less than a quarter of a day, years that end a
century are leap years only when they can be divided by 400, which is why 2000 was a leap year
and 1900 was not.

How Glass Is Made

Ordinary window glass is made mostly from sand, with soda ash and limestone added so that the
mixture melts at a lower temperature and resists water once it cools. The ingredients are heated
in a furnace until they form a glowing liquid. For flat glass, this liquid is poured onto a bath
of molten tin, where it spreads into a perfectly even sheet before it is cooled slowly to remove
stresses. Glass bottles and jars are instead blown into moulds by machines, and most of them can
be melted down and made into new containers.
"""


# --- Instructions: Alpaca-format records with short, correct answers -----------------------

PLURALS = [("child", "children"), ("mouse", "mice"), ("box", "boxes"), ("city", "cities"),
           ("knife", "knives"), ("tooth", "teeth"), ("leaf", "leaves"), ("bus", "buses"),
           ("woman", "women"), ("sheep", "sheep"), ("potato", "potatoes"), ("goose", "geese")]
OPPOSITES = [("hot", "cold"), ("early", "late"), ("full", "empty"), ("heavy", "light"),
             ("ancient", "modern"), ("generous", "stingy"), ("narrow", "wide"),
             ("rough", "smooth"), ("loud", "quiet"), ("strong", "weak")]
CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Italy", "Rome"), ("Canada", "Ottawa"),
            ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Norway", "Oslo"), ("Egypt", "Cairo"),
            ("Australia", "Canberra"), ("Spain", "Madrid")]
MISSPELLED = [("recieve", "receive"), ("seperate", "separate"), ("definately", "definitely"),
              ("occured", "occurred"), ("untill", "until"), ("tommorow", "tomorrow"),
              ("beleive", "believe"), ("wierd", "weird")]
PAST = [("She walks to school.", "She walked to school."),
        ("They play chess on Sundays.", "They played chess on Sundays."),
        ("I eat an apple.", "I ate an apple."),
        ("He writes a letter.", "He wrote a letter."),
        ("We see the mountains.", "We saw the mountains."),
        ("The dog runs in the park.", "The dog ran in the park.")]
FRUITS = ["pear", "apple", "mango", "kiwi", "banana", "cherry", "lemon", "grape", "plum", "fig"]
SENTENCES = ["The cat sat on the warm mat", "Rain fell all night long",
             "My brother likes green tea", "The train leaves at noon today",
             "We planted three trees in the garden", "Birds sing early in spring"]


def no_input_task(rng: random.Random) -> dict:
    kind = rng.randrange(8)
    a, b = rng.randint(2, 40), rng.randint(2, 12)
    if kind == 0:
        q, ans = f"Add {a} and {b}.", f"{a} plus {b} is {a + b}."
    elif kind == 1:
        q, ans = f"Multiply {a} by {b}.", f"{a} times {b} is {a * b}."
    elif kind == 2:
        q = f"How many meters are there in {b} kilometers?"
        ans = f"There are {b * 1000} meters in {b} kilometers."
    elif kind == 3:
        q, ans = f"How many minutes are in {b} hours?", f"{b} hours is {b * 60} minutes."
    elif kind == 4:
        w, p = pick(rng, PLURALS)
        q, ans = f"Write the plural form of \"{w}\".", f"The plural of \"{w}\" is \"{p}\"."
    elif kind == 5:
        w, o = pick(rng, OPPOSITES)
        q = f"Give a word that means the opposite of \"{w}\"."
        ans = f"The opposite of \"{w}\" is \"{o}\"."
    elif kind == 6:
        c, cap = pick(rng, CAPITALS)
        q, ans = f"Name the capital city of {c}.", f"The capital city of {c} is {cap}."
    else:
        parity = "even" if a % 2 == 0 else "odd"
        q, ans = f"Is {a} an even or an odd number?", f"{a} is an {parity} number."
    return {"instruction": q, "input": "", "output": ans}


def input_task(rng: random.Random) -> dict:
    kind = rng.randrange(6)
    if kind == 0:
        words = rng.sample(FRUITS, 4)
        return {"instruction": "Sort the following words in alphabetical order.",
                "input": ", ".join(words), "output": ", ".join(sorted(words))}
    if kind == 1:
        s = pick(rng, SENTENCES)
        return {"instruction": "Count the words in the following sentence.", "input": s,
                "output": f"The sentence has {len(s.split())} words."}
    if kind == 2:
        present, past = pick(rng, PAST)
        return {"instruction": "Rewrite the following sentence in the past tense.",
                "input": present, "output": past}
    if kind == 3:
        wrong, right = pick(rng, MISSPELLED)
        return {"instruction": "Correct the spelling of the following word.", "input": wrong,
                "output": f"The correct spelling is \"{right}\"."}
    if kind == 4:
        nums = rng.sample(range(1, 100), 5)
        return {"instruction": "Find the largest number in the following list.",
                "input": ", ".join(map(str, nums)),
                "output": f"The largest number is {max(nums)}."}
    s = pick(rng, SENTENCES)
    return {"instruction": "Convert the following text to uppercase.", "input": s,
            "output": s.upper()}


def instruction_records(rng: random.Random) -> str:
    records = unique(rng, no_input_task, 56) + unique(rng, input_task, 24)  # 30 % with input
    rng.shuffle(records)
    return json.dumps(records, indent=4, ensure_ascii=False) + "\n"


def main() -> None:
    rng = random.Random(SEED)
    write("sms_spam/SMSSpamCollection", sms_rows(rng))
    seen: set[str] = set()  # no sentence in both SST-2 files
    write("sst2/train.tsv", sst2_rows(rng, 99, 81, seen))
    write("sst2/dev.tsv", sst2_rows(rng, 30, 30, seen))
    write("imdb/imdb_reviews_small.csv", imdb_rows(rng))
    write("customer_reviews/amazon_snippets_binary.tsv", amazon_rows(rng))
    write("tinyshakespeare/input.txt", play_text(rng, 25_000))
    write("the_verdict/the-verdict.txt", story_text(rng, 25_000))
    write("control/expository.txt", CONTROL)
    write("alpaca_instruction/instruction-data.json", instruction_records(rng))


if __name__ == "__main__":
    main()
