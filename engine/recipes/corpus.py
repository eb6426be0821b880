"""Seeded generator of varied, already-normalized English training text.

The synthetic-speech recipe (:mod:`engine.recipes.synth`) feeds these texts to
text-to-speech engines. Every string returned here is NORMALIZED the way the
recognizer's transcripts are (:func:`engine.text.normalize.normalize_text`):
lowercase, only the letters ``a``-``z``, the apostrophe and single spaces,
numbers spelled out as words ("three hundred and twelve", never "312"), no
leading or trailing space.

Categories (each a function taking a :class:`random.Random`):

* :func:`single_word` -- one of the 35 words of the Speech Commands dataset
  (the ten digits "zero".."nine" and 25 other words) or, rarely, "oh";
* :func:`single_digit`, :func:`digit_string` ("four two seven"),
  :func:`number_words` ("three hundred and twelve", "twenty one",
  "nineteen eighty four");
* :func:`short_command` -- device/assistant commands from slot templates
  ("turn on the kitchen light", "volume up", "next song");
* :func:`everyday_sentence` -- 3 to 10 word sentences about home, weather,
  time, food, travel and numbers, built from templates and the word lists of
  this module (several hundred distinct words; no external corpus).

:func:`sample_texts` mixes them with about half single words, because the
recognizer is first judged on isolated digits and command words.

Everything is deterministic given the seed: the same ``(n, seed)`` gives the
same list on every machine and Python run (``random.Random`` seeded with an
int or str does not depend on ``PYTHONHASHSEED``).

Sources: the command vocabulary is that of Speech Commands v0.02 (P. Warden,
"Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition",
arXiv:1804.03209, 2018). The number spelling follows the British/num2words
style ("one hundred and five", "one thousand, one hundred" without the
comma), which is what ``normalize_text`` produces for digits.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable

from num2words import num2words

from engine.text.normalize import normalize_text

__all__ = [
    "DIGITS",
    "COMMAND_WORDS",
    "CORE_COMMANDS",
    "AUXILIARY_WORDS",
    "SINGLE_WORDS",
    "normalize",
    "number_to_words",
    "single_word",
    "single_digit",
    "digit_string",
    "number_words",
    "short_command",
    "everyday_sentence",
    "sample_texts",
    "is_normalized",
    "vocabulary",
]

# --------------------------------------------------------------------------
# Speech Commands vocabulary (v0.02, 35 words).
# --------------------------------------------------------------------------
DIGITS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)
CORE_COMMANDS: tuple[str, ...] = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
)
AUXILIARY_WORDS: tuple[str, ...] = (
    "backward", "bed", "bird", "cat", "dog", "follow", "forward", "happy",
    "house", "learn", "marvin", "sheila", "tree", "visual", "wow",
)
#: The 35 words of Speech Commands v0.02 (digits + core commands + others).
COMMAND_WORDS: tuple[str, ...] = CORE_COMMANDS + DIGITS + AUXILIARY_WORDS
#: Everything :func:`single_word` can return ("oh" is the spoken zero).
SINGLE_WORDS: frozenset[str] = frozenset(COMMAND_WORDS) | {"oh"}

# --------------------------------------------------------------------------
# Normalization.
# --------------------------------------------------------------------------
_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = (
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
    "eighty", "ninety",
)
_NORMALIZED_RE = re.compile(r"^[a-z']+(?: [a-z']+)*$")


def number_to_words(n: int, use_and: bool = True) -> str:
    """Spell a non-negative integer in normalized English words (num2words).

    ``use_and=True`` gives the British/num2words style that
    :func:`engine.text.normalize.normalize_text` produces for digits
    ("three hundred and twelve"); ``use_and=False`` the American one
    ("three hundred twelve").

    Raises:
        ValueError: if ``n`` is negative or not below 10**15.

    >>> number_to_words(1105)
    'one thousand one hundred and five'
    >>> number_to_words(42, use_and=False)
    'forty two'
    """
    n = int(n)
    if n < 0 or n >= 10 ** 15:
        raise ValueError(f"number out of range: {n}")
    words = normalize_text(num2words(n))
    return words if use_and else " ".join(w for w in words.split() if w != "and")


normalize = normalize_text
"""Free text → the recognizer's transcript alphabet (the project's one normalizer)."""


def is_normalized(text: str) -> bool:
    """True if ``text`` is non-empty and matches ``^[a-z']+( [a-z']+)*$``."""
    return bool(_NORMALIZED_RE.match(text))


# --------------------------------------------------------------------------
# Single words and numbers.
# --------------------------------------------------------------------------
def single_word(rng: random.Random) -> str:
    """One Speech Commands word (uniform over the 35), or "oh" with p=0.02."""
    if rng.random() < 0.02:
        return "oh"
    return rng.choice(COMMAND_WORDS)


def single_digit(rng: random.Random) -> str:
    """One digit word "zero".."nine"; "oh" replaces "zero" with p=0.1."""
    d = rng.choice(DIGITS)
    if d == "zero" and rng.random() < 0.1:
        return "oh"
    return d


def digit_string(rng: random.Random, min_len: int = 2, max_len: int = 7) -> str:
    """A string of ``min_len``..``max_len`` digit words ("four two seven").

    Zero is said "oh" in about 30 % of its occurrences, as in phone numbers.
    """
    k = rng.randint(min_len, max_len)
    out = []
    for _ in range(k):
        d = rng.randrange(10)
        out.append("oh" if d == 0 and rng.random() < 0.3 else DIGITS[d])
    return " ".join(out)


def number_words(rng: random.Random) -> str:
    """A number spelled as words: small, two-digit, hundreds, thousands, years.

    80 % use the "and" style ("three hundred and twelve"), 20 % the American
    one; years are read in pairs ("nineteen eighty four", "twenty twenty").
    """
    use_and = rng.random() < 0.8
    r = rng.random()
    if r < 0.2:
        return number_to_words(rng.randint(0, 20))
    if r < 0.5:
        return number_to_words(rng.randint(21, 99))
    if r < 0.75:
        n = rng.randint(100, 999)
        if rng.random() < 0.1:  # "a hundred and five"
            n = 100 + rng.randint(0, 99)
            words = number_to_words(n, use_and)
            return "a" + words[len("one"):]
        return number_to_words(n, use_and)
    if r < 0.9:
        n = rng.choice([rng.randint(1000, 9999), rng.randint(10, 99) * 1000,
                        rng.randint(100, 999999)])
        return number_to_words(n, use_and)
    # Year style.
    century = rng.choice([19, 20, 18])
    rest = rng.randint(0, 99)
    if century == 20 and rest < 10 and rng.random() < 0.7:
        return number_to_words(2000 + rest, use_and=True)
    if rest == 0:
        return f"{number_to_words(century)} hundred"
    if rest < 10:
        return f"{number_to_words(century)} oh {_ONES[rest]}"
    return f"{number_to_words(century)} {number_to_words(rest)}"


# --------------------------------------------------------------------------
# Word lists for commands and sentences.
# --------------------------------------------------------------------------
ROOMS = ("kitchen", "bedroom", "living room", "bathroom", "hallway", "garage",
         "office", "basement", "garden", "dining room", "attic", "porch")
DEVICES = ("light", "lights", "lamp", "fan", "heater", "radio", "television",
           "tv", "music", "oven", "kettle", "washing machine", "dishwasher",
           "air conditioner", "computer", "printer", "speaker", "alarm",
           "camera", "coffee machine")
MEDIA = ("music", "song", "video", "movie", "podcast", "radio", "playlist",
         "recording", "audio book", "news")
GENRES = ("jazz", "rock", "classical", "pop", "country", "folk", "blues",
          "dance", "quiet", "relaxing", "happy", "old")
DIRECTIONS = ("left", "right", "up", "down", "forward", "backward", "back",
              "home", "north", "south", "east", "west", "straight ahead")
NAMES = ("anna", "david", "maria", "john", "sarah", "peter", "emma", "james",
         "lucy", "michael", "sophie", "daniel", "grace", "thomas", "olivia",
         "sam", "kate", "ben", "laura", "marvin", "sheila", "mum", "dad")
FAMILY = ("mother", "father", "sister", "brother", "grandmother",
          "grandfather", "aunt", "uncle", "cousin", "friend", "neighbour",
          "son", "daughter", "wife", "husband", "boss", "teacher", "doctor")
CITIES = ("london", "paris", "boston", "chicago", "berlin", "madrid", "dublin",
          "seattle", "denver", "rome", "vienna", "toronto", "sydney", "tokyo",
          "glasgow", "manchester", "amsterdam", "lisbon", "new york", "atlanta")
PLACES = ("station", "airport", "hotel", "museum", "library", "bank", "park",
          "beach", "market", "hospital", "school", "office", "cinema",
          "restaurant", "bakery", "pharmacy", "post office", "supermarket",
          "bus stop", "city centre", "harbour", "bridge", "church", "gym")
FOODS = ("bread", "cheese", "rice", "pasta", "soup", "salad", "chicken",
         "fish", "eggs", "butter", "milk", "coffee", "tea", "juice", "water",
         "apples", "bananas", "oranges", "grapes", "tomatoes", "potatoes",
         "carrots", "onions", "beans", "cake", "cookies", "pizza",
         "sandwiches", "noodles", "yoghurt", "honey", "sugar", "salt",
         "pepper", "chocolate", "ice cream", "pancakes", "toast", "jam",
         "lemons", "strawberries", "mushrooms", "cereal", "sausages")
MEALS = ("breakfast", "lunch", "dinner", "supper", "a snack", "dessert")
DRINKS = ("coffee", "tea", "water", "juice", "milk", "lemonade", "hot chocolate")
THINGS = ("keys", "phone", "wallet", "glasses", "umbrella", "bag", "coat",
          "book", "ticket", "passport", "laptop", "charger", "jacket", "hat",
          "scarf", "gloves", "shoes", "letter", "map", "camera", "watch",
          "notebook", "pen", "cup", "plate", "bottle", "blanket", "pillow",
          "towel", "remote")
FURNITURE = ("table", "chair", "sofa", "shelf", "desk", "bed", "floor",
             "counter", "windowsill", "cupboard", "drawer", "bench")
WEATHER_ADJ = ("sunny", "cloudy", "rainy", "windy", "foggy", "cold", "warm",
               "hot", "freezing", "stormy", "dry", "wet", "mild", "clear",
               "grey", "humid", "chilly", "bright")
WEATHER_NOUN = ("rain", "snow", "wind", "storm", "fog", "sunshine", "thunder",
                "hail", "frost", "heat", "drizzle")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
        "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july",
          "august", "september", "october", "november", "december")
TIME_REFS = ("today", "tomorrow", "tonight", "this morning", "this afternoon",
             "this evening", "next week", "on the weekend", "later",
             "yesterday", "last night", "soon", "right now")
PARTS_OF_DAY = ("morning", "afternoon", "evening", "night")
ACTIVITIES = ("read", "cook", "swim", "run", "walk", "sing", "dance", "paint",
              "travel", "sleep", "study", "work", "shop", "play chess",
              "ride a bike", "watch films", "go fishing", "play football",
              "write letters", "garden")
ADJ = ("big", "small", "old", "new", "red", "blue", "green", "black",
       "white", "yellow", "clean", "dirty", "heavy", "light", "quiet",
       "noisy", "cheap", "expensive", "fresh", "busy", "empty", "full",
       "early", "late", "long", "short", "nice", "lovely", "strange", "open")
NOUN_PLURAL = ("books", "chairs", "cups", "plates", "windows", "doors",
               "boxes", "cars", "trees", "birds", "cats", "dogs", "people",
               "rooms", "tickets", "seats", "minutes", "hours", "days",
               "pictures", "flowers", "bottles", "bags", "shoes")
TRANSPORT = ("train", "bus", "plane", "flight", "ferry", "taxi", "tram",
             "coach", "boat")
UNITS = ("minutes", "hours", "seconds")
ADVERBS = ("really", "very", "quite", "a bit", "so", "too")
VERBS_PAST = ("forgot", "found", "lost", "left", "bought", "saw", "washed",
              "cleaned", "fixed", "moved", "opened", "closed", "dropped")
FEELINGS = ("happy", "tired", "hungry", "thirsty", "cold", "busy", "late",
            "ready", "sorry", "sure", "lucky", "bored", "excited", "sleepy")


def _clock_time(rng: random.Random) -> str:
    hour = rng.randint(1, 12)
    h = number_to_words(hour)
    style = rng.random()
    if style < 0.25:
        return f"{h} o'clock"
    if style < 0.4:
        return f"half past {h}"
    if style < 0.5:
        return f"quarter {rng.choice(('past', 'to'))} {h}"
    minute = rng.choice((5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55,
                         rng.randint(1, 59)))
    if minute < 10:
        return f"{h} oh {_ONES[minute]}"
    return f"{h} {number_to_words(minute)}"


def _small_number(rng: random.Random) -> str:
    return number_to_words(rng.choice((rng.randint(1, 12), rng.randint(2, 60),
                                       rng.randint(1, 5))))


def _temperature(rng: random.Random) -> str:
    return number_to_words(rng.randint(15, 30))


def _date(rng: random.Random) -> str:
    day = rng.randint(1, 28)
    ordinals = ("first", "second", "third", "fourth", "fifth", "sixth",
                "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
                "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                "seventeenth", "eighteenth", "nineteenth", "twentieth")
    if day <= 20:
        o = ordinals[day - 1]
    else:
        o = "twenty " + ordinals[day - 21]
    month = rng.choice(MONTHS)
    return rng.choice((f"the {o} of {month}", f"{month} the {o}"))


# Slot fillers: name -> function(rng) -> str.
_SLOTS: dict[str, Callable[[random.Random], str]] = {
    "room": lambda r: r.choice(ROOMS),
    "device": lambda r: r.choice(DEVICES),
    "media": lambda r: r.choice(MEDIA),
    "genre": lambda r: r.choice(GENRES),
    "dir": lambda r: r.choice(DIRECTIONS),
    "name": lambda r: r.choice(NAMES),
    "family": lambda r: r.choice(FAMILY),
    "city": lambda r: r.choice(CITIES),
    "place": lambda r: r.choice(PLACES),
    "food": lambda r: r.choice(FOODS),
    "meal": lambda r: r.choice(MEALS),
    "drink": lambda r: r.choice(DRINKS),
    "thing": lambda r: r.choice(THINGS),
    "furniture": lambda r: r.choice(FURNITURE),
    "wadj": lambda r: r.choice(WEATHER_ADJ),
    "wnoun": lambda r: r.choice(WEATHER_NOUN),
    "day": lambda r: r.choice(DAYS),
    "month": lambda r: r.choice(MONTHS),
    "when": lambda r: r.choice(TIME_REFS),
    "part": lambda r: r.choice(PARTS_OF_DAY),
    "activity": lambda r: r.choice(ACTIVITIES),
    "adj": lambda r: r.choice(ADJ),
    "nouns": lambda r: r.choice(NOUN_PLURAL),
    "transport": lambda r: r.choice(TRANSPORT),
    "unit": lambda r: r.choice(UNITS),
    "adv": lambda r: r.choice(ADVERBS),
    "vpast": lambda r: r.choice(VERBS_PAST),
    "feeling": lambda r: r.choice(FEELINGS),
    "onoff": lambda r: r.choice(("on", "off")),
    "updown": lambda r: r.choice(("up", "down")),
    "time": _clock_time,
    "num": _small_number,
    "temp": _temperature,
    "date": _date,
    "digits": lambda r: digit_string(r, 3, 6),
    "bignum": number_words,
}

_SLOT_RE = re.compile(r"\{(\w+)\}")

COMMAND_TEMPLATES: tuple[str, ...] = (
    "turn {onoff} the {device}",
    "turn the {device} {onoff}",
    "turn {onoff} the {room} {device}",
    "switch {onoff} the {device}",
    "switch the {room} light {onoff}",
    "{onoff}",
    "stop the {media}",
    "play the {media}",
    "pause the {media}",
    "resume the {media}",
    "play some {genre} music",
    "play {genre} music in the {room}",
    "go {dir}",
    "move {dir}",
    "turn {dir}",
    "go {dir} please",
    "volume {updown}",
    "turn the volume {updown}",
    "turn it {updown}",
    "scroll {updown}",
    "zoom in",
    "zoom out",
    "next song",
    "previous song",
    "next track",
    "skip this song",
    "next station",
    "next channel",
    "go back",
    "go home",
    "mute",
    "unmute",
    "stop",
    "cancel",
    "repeat that",
    "start recording",
    "stop recording",
    "yes please",
    "no thanks",
    "lock the door",
    "unlock the front door",
    "open the {room} door",
    "close the {room} window",
    "dim the lights",
    "brighten the lights",
    "set a timer for {num} {unit}",
    "set an alarm for {time}",
    "wake me up at {time}",
    "remind me to call {name} at {time}",
    "call {name}",
    "call my {family}",
    "send a message to {name}",
    "set the temperature to {temp} degrees",
    "make it warmer",
    "make it cooler",
    "what time is it",
    "what's the weather",
    "what's the weather in {city}",
    "read the news",
    "add {food} to the shopping list",
    "show me the map",
    "take a picture",
    "follow me",
    "come here",
    "sit down",
    "wait here",
    "go {dir} and stop",
    "turn {dir} then go {dir}",
    "stop and go {dir}",
    "dial {digits}",
)

SENTENCE_TEMPLATES: tuple[str, ...] = (
    # home
    "the {thing} is on the {furniture}",
    "i left my {thing} in the {room}",
    "please put the {thing} on the {furniture}",
    "have you seen my {thing}",
    "there are {num} {nouns} in the {room}",
    "the {room} is {adv} {adj}",
    "we need a new {device} for the {room}",
    "can you clean the {room} {when}",
    "i {vpast} the {thing} {when}",
    "my {family} {vpast} the {thing}",
    "the {device} in the {room} is broken",
    "the {adj} {thing} belongs to {name}",
    # weather
    "it will be {wadj} {when}",
    "it is {adv} {wadj} outside",
    "the {wnoun} will stop before {time}",
    "there will be {wnoun} in {city} {when}",
    "it was {wadj} and {wadj} {when}",
    "the forecast says {wnoun} on {day}",
    "it is {temp} degrees in {city}",
    "bring an umbrella because of the {wnoun}",
    "i hope it stays {wadj} for the weekend",
    # time
    "it is {time} in the {part}",
    "the meeting starts at {time}",
    "i will be home by {time}",
    "my {family} is coming home {when}",
    "we are meeting on {day} at {time}",
    "her birthday is on {date}",
    "the shop opens at {time} on {day}",
    "i have been waiting for {num} {unit}",
    "see you on {day} {part}",
    "it takes about {num} minutes",
    "the party is on {date}",
    # food
    "i would like some {food} please",
    "we need to buy {food} and {food}",
    "do you want {food} or {food} for {meal}",
    "can i have a cup of {drink}",
    "there is no {food} left in the kitchen",
    "we had {food} for {meal} {when}",
    "the {food} is {adv} fresh",
    "{name} made {food} for {meal}",
    "i am {adv} {feeling}",
    "could you pass the {food}",
    "dinner will be ready at {time}",
    # travel
    "the {transport} to {city} leaves at {time}",
    "how do i get to the {place}",
    "can you tell me the way to the {place}",
    "how long does it take to get to {city}",
    "the {transport} was {num} minutes late",
    "we are flying to {city} on {day}",
    "my {family} lives in {city}",
    "turn {dir} at the {place}",
    "the {place} is next to the {place}",
    "i need a ticket to {city}",
    "the {transport} is {adv} {adj} {when}",
    "we stayed in {city} for {num} days",
    "meet me at the {place} at {time}",
    # numbers
    "my phone number is {digits}",
    "the code is {digits}",
    "it costs {bignum} pounds",
    "there were {bignum} people at the {place}",
    "room number {digits}",
    "i paid {bignum} dollars for it",
    "the house number is {num}",
    "we drove {bignum} miles",
    # people / misc
    "{name} likes to {activity} on {day}",
    "{name} and {name} went to the {place}",
    "i am {feeling} because of the {wnoun}",
    "my {family} wants to {activity} {when}",
    "do you want to {activity} {when}",
    "{name} is {adv} {feeling} {when}",
    "the {nouns} are in the {room}",
    "we saw {num} {nouns} at the {place}",
)


def _fill(template: str, rng: random.Random) -> str:
    return _SLOT_RE.sub(lambda m: _SLOTS[m.group(1)](rng), template)


def short_command(rng: random.Random) -> str:
    """A short spoken command from :data:`COMMAND_TEMPLATES` ("volume up")."""
    return normalize(_fill(rng.choice(COMMAND_TEMPLATES), rng))


def everyday_sentence(rng: random.Random, min_words: int = 3, max_words: int = 10) -> str:
    """An everyday sentence of ``min_words``..``max_words`` words (default 3-10)."""
    text = ""
    for _ in range(50):
        text = normalize(_fill(rng.choice(SENTENCE_TEMPLATES), rng))
        if min_words <= len(text.split()) <= max_words:
            return text
    words = text.split()[:max_words]
    while len(words) < min_words:
        words.append(rng.choice(THINGS))
    return " ".join(words)


#: (category name, generator, share) used by :func:`sample_texts`.
MIXTURE: tuple[tuple[str, Callable[[random.Random], str], float], ...] = (
    ("single_word", single_word, 0.50),
    ("digit_string", digit_string, 0.10),
    ("number_words", number_words, 0.08),
    ("short_command", short_command, 0.14),
    ("everyday_sentence", everyday_sentence, 0.18),
)


def sample_texts(n: int, seed: int = 0) -> list[str]:
    """Return ``n`` normalized training texts, deterministic for ``seed``.

    Shares: single Speech Commands word (incl. digits, rare "oh") 50 %,
    digit strings 10 %, numbers as words 8 %, short commands 14 %, everyday
    sentences 18 %. The category of each item is drawn at random (so shares
    are approximate for small ``n``) and consecutive items are independent.

    Raises:
        ValueError: if ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"sayso-corpus:{seed}")
    names = [m[0] for m in MIXTURE]
    gens = {m[0]: m[1] for m in MIXTURE}
    weights = [m[2] for m in MIXTURE]
    out = []
    for _ in range(n):
        cat = rng.choices(names, weights)[0]
        text = gens[cat](rng)
        assert is_normalized(text), (cat, text)
        out.append(text)
    return out


def vocabulary() -> set[str]:
    """Every word the templates and word lists can produce (approximate
    upper bound used by tests; numbers contribute their word forms)."""
    words: set[str] = set(SINGLE_WORDS) | set(_ONES) | set(_TENS[2:])
    words |= {"hundred", "thousand", "million", "and", "a", "point", "oh"}
    for seq in (ROOMS, DEVICES, MEDIA, GENRES, DIRECTIONS, NAMES, FAMILY,
                CITIES, PLACES, FOODS, MEALS, DRINKS, THINGS, FURNITURE,
                WEATHER_ADJ, WEATHER_NOUN, DAYS, MONTHS, TIME_REFS,
                PARTS_OF_DAY, ACTIVITIES, ADJ, NOUN_PLURAL, TRANSPORT, UNITS,
                ADVERBS, VERBS_PAST, FEELINGS):
        for item in seq:
            words.update(normalize(item).split())
    for t in COMMAND_TEMPLATES + SENTENCE_TEMPLATES:
        words.update(normalize(_SLOT_RE.sub(" ", t)).split())
    return words
