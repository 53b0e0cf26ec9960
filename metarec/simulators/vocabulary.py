"""Word lists for the synthetic catalogue and population.

Item descriptions and persona statements are written from *different* vocabularies for the same topic
(an item is "a tense tale of espionage"; a persona "loves spy thrillers"), so that a persona is grounded on
items through the meaning a language model gives both texts, not through shared words.
``tests/simulators/test_vocabulary.py`` checks that no topic word is shared.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One latent topic: how items describe it and how people talk about it.

    Attributes
    ----------
    key : str
        Short identifier, used as the item tag.
    title_words : tuple of (tuple of str, tuple of str)
        Two pools of words that make item titles ("Silent" + "Courier").
    hooks : tuple of str
        Item-side sentences (the plot or premise), written without the persona-side words.
    likes : tuple of str
        Persona-side phrases naming the topic ("spy thrillers"), used in like and dislike statements.
    """

    key: str
    title_words: tuple[tuple[str, ...], tuple[str, ...]]
    hooks: tuple[str, ...]
    likes: tuple[str, ...]


TOPICS: tuple[Topic, ...] = (
    Topic(
        "espionage",
        (
            ("Silent", "Double", "Cold", "Hidden", "Burned", "Covert"),
            ("Courier", "Protocol", "Cipher", "Asset", "Dossier", "Exchange"),
        ),
        (
            "A tense tale of espionage in which a double agent races to expose a mole inside the embassy.",
            "An intelligence officer trades forged documents across a divided Berlin while being watched.",
            "A decoder of intercepted messages uncovers a plot to sell state secrets to a rival power.",
            "Operatives on a covert mission swap identities to smuggle a defector over the border.",
            "A disgraced handler must unmask the informant who betrayed her network of informers.",
            "Microfilm, dead drops and a safehouse under surveillance: a defector may not be who he claims.",
        ),
        (
            "spy thrillers",
            "James Bond-style capers",
            "cloak-and-dagger intrigue",
            "tales of spycraft",
        ),
    ),
    Topic(
        "romance",
        (
            ("Summer", "Second", "Lovers'", "Midnight", "Sweet", "Tender"),
            ("Kiss", "Vows", "Heart", "Letters", "Promise", "Wedding"),
        ),
        (
            "Two strangers share a train compartment and slowly fall for each other over a long journey.",
            "A florist and a widowed architect rediscover tenderness after a chance meeting in the rain.",
            "Old flames reunite at a wedding on the coast and wonder whether it is too late.",
            "A courtship told through handwritten letters exchanged across an ocean.",
            "A shy baker and a touring musician navigate a whirlwind affair one unforgettable summer.",
            "An engaged couple question their vows when an old sweetheart returns to town.",
        ),
        ("love stories", "romantic films", "tales of falling in love", "swoon-worthy relationships"),
    ),
    Topic(
        "space",
        (
            ("Orbital", "Stellar", "Deep", "Red", "Last", "Lunar"),
            ("Colony", "Voyage", "Station", "Frontier", "Drift", "Horizon"),
        ),
        (
            "The crew of a starship wakes from cryosleep to find their navigation computer has been tampered with.",
            "Colonists on a frozen moon fight to keep their reactor alive through an endless night.",
            "A lone astronaut stranded on Mars improvises a way to survive until rescue arrives.",
            "An interstellar probe returns a signal from a galaxy that should not exist.",
            "Miners in the asteroid belt discover an alien artefact buried in the rock.",
            "A generation ship nears its destination planet after three hundred years in transit.",
        ),
        (
            "science fiction",
            "sci-fi about the cosmos",
            "futuristic adventures beyond Earth",
            "outer-space epics",
        ),
    ),
    Topic(
        "horror",
        (
            ("Hollow", "Crimson", "Whispering", "Rotten", "Grim", "Black"),
            ("Cellar", "Ritual", "Harvest", "Attic", "Curse", "Woods"),
        ),
        (
            "A family moves into a farmhouse where something scratches inside the walls every night.",
            "Campers deep in the forest are stalked by a masked killer who leaves no tracks.",
            "A demonic presence possesses a child after a séance goes terribly wrong.",
            "Villagers perform a blood ritual each winter, and this year an outsider is the offering.",
            "A haunted asylum's abandoned wards swallow the ghost hunters who broke in.",
            "Gruesome deaths follow anyone who watches a cursed videotape.",
        ),
        (
            "scary movies",
            "frightening films",
            "spine-chilling frights",
            "terrifying slashers and spooks",
        ),
    ),
    Topic(
        "comedy",
        (
            ("Totally", "Big", "Crazy", "Awkward", "Super", "Wild"),
            ("Weekend", "Roommates", "Mixup", "Road Trip", "Party", "Reunion"),
        ),
        (
            "Two hapless roommates accidentally adopt a runaway llama the night before their landlord visits.",
            "A wedding planner's disastrous week spirals into a string of absurd misunderstandings.",
            "Slapstick mishaps pile up when a clumsy substitute teacher takes over a class of pranksters.",
            "Three old friends attempt a road trip and get lost in every possible way.",
            "An uptight accountant must pose as a stand-up comedian to win back his sister's trust.",
            "Chaos erupts at a family reunion when grandma announces she is joining a boy band.",
        ),
        ("funny movies", "films that make people laugh", "goofy humour", "lighthearted laughs"),
    ),
    Topic(
        "cooking",
        (
            ("Golden", "Rustic", "Spice", "Kitchen", "Simmering", "Fresh"),
            ("Table", "Feast", "Bakery", "Harvest", "Recipes", "Pantry"),
        ),
        (
            "A pastry chef travels through rural France collecting forgotten dessert recipes.",
            "Home bakers compete to create the perfect sourdough loaf under a ticking clock.",
            "A grandmother teaches her grandson the family's secret dumpling recipe, one fold at a time.",
            "Street-food vendors in Bangkok reveal how they prepare noodles over blazing woks.",
            "A disgraced restaurateur rebuilds her career running a tiny seaside bistro.",
            "Pickling, fermenting and slow-roasting: a year in the kitchen of a farm-to-table inn.",
        ),
        ("cookery programmes", "anything about cuisine", "culinary programmes", "gastronomy"),
    ),
    Topic(
        "crime",
        (
            ("Cold", "Final", "Missing", "Blood", "Dark", "Open"),
            ("Case", "Verdict", "Witness", "Alibi", "Confession", "Evidence"),
        ),
        (
            "Detectives reopen an unsolved murder after a new witness comes forward decades later.",
            "A forensic examiner notices a pattern linking a string of disappearances along the highway.",
            "An investigative journalist tracks a serial offender through court records and police files.",
            "A prosecutor fights to convict a powerful businessman accused of killing his partner.",
            "Interrogation tapes reveal the shocking truth behind a small town's most notorious homicide.",
            "A retired inspector is pulled back into the hunt for a burglar who leaves riddles behind.",
        ),
        ("true-crime mysteries", "whodunits", "cop shows", "sleuthing and detection"),
    ),
    Topic(
        "fantasy",
        (
            ("Dragon's", "Enchanted", "Elder", "Shadow", "Crystal", "Iron"),
            ("Crown", "Realm", "Sword", "Prophecy", "Keep", "Throne"),
        ),
        (
            "An orphaned blacksmith learns she is heir to a throne guarded by a slumbering dragon.",
            "Wizards of rival guilds battle for an enchanted sword that can split the kingdom.",
            "A band of elves and dwarves crosses haunted mountains to destroy a cursed ring.",
            "A young sorcerer's apprentice accidentally summons a storm spirit into the castle.",
            "An ancient prophecy names a goatherd as the one who will break the witch queen's spell.",
            "Knights, goblins and a talking raven quest for the lost crown of a vanished empire.",
        ),
        (
            "magical worlds",
            "high fantasy",
            "myths and legends",
            "tales of magic and mythical creatures",
        ),
    ),
    Topic(
        "nature",
        (
            ("Wild", "Blue", "Frozen", "Living", "Secret", "Great"),
            ("Planet", "Ocean", "Savanna", "Migration", "Reef", "Seasons"),
        ),
        (
            "Narrated footage follows a herd of elephants on a thousand-mile trek across the Kalahari.",
            "Underwater cameras capture whales, coral and plankton blooms in the open Pacific.",
            "Researchers track wolves through a year of deep snow in Yellowstone.",
            "Penguins raise their chicks through the brutal Antarctic winter.",
            "A rainforest canopy teems with orchids, tree frogs and hunting jaguars.",
            "Time-lapse photography reveals how deserts bloom after a single rainstorm.",
        ),
        (
            "wildlife documentaries",
            "films about animals and the environment",
            "programmes on ecosystems",
            "earth's creatures and landscapes",
        ),
    ),
    Topic(
        "sports",
        (
            ("Final", "Underdog", "Golden", "Fourth", "Rookie", "Perfect"),
            ("Season", "Goal", "Match", "Quarter", "Comeback", "Title"),
        ),
        (
            "A small-town basketball team claws its way to the state championship.",
            "A boxer past his prime trains for one last bout against the reigning heavyweight.",
            "The inside story of a football club's improbable run to the league title.",
            "A marathon runner recovers from injury to race again in the Olympic final.",
            "A rookie pitcher faces the pressure of the World Series in his first year.",
            "Cyclists battle mountain stages and each other in the world's toughest race.",
        ),
        (
            "athletic competition",
            "stories about athletes and champions",
            "games and tournaments",
            "the thrill of the big game",
        ),
    ),
    Topic(
        "war",
        (
            ("Iron", "Last", "Burning", "Fallen", "Winter", "Lost"),
            ("Front", "Battalion", "Beachhead", "Trench", "Line", "Company"),
        ),
        (
            "Soldiers hold a bridge against overwhelming odds in the final days of the Second World War.",
            "A platoon fights through the jungle after their helicopter is shot down behind enemy lines.",
            "Nurses at a field hospital treat the wounded while shells fall around them.",
            "A submarine crew hunts enemy convoys in the freezing North Atlantic.",
            "Infantrymen endure the mud and gas of the trenches at the Somme.",
            "A resistance fighter sabotages railway lines to slow an occupying army.",
        ),
        ("military history", "battlefield dramas", "combat films", "stories of wartime heroism"),
    ),
    Topic(
        "family",
        (
            ("Little", "Magic", "Happy", "Brave", "Tiny", "Wonder"),
            ("Pup", "Adventure", "Friends", "Kingdom", "Treehouse", "Journey"),
        ),
        (
            "A curious puppy gets lost in the city and befriends a pigeon who helps him home.",
            "Animated toys come to life when their owner leaves for summer camp.",
            "A brave young girl and her talking bicycle set off to find her grandfather's lost treasure.",
            "Siblings discover a secret door in their treehouse that leads to a land of singing mushrooms.",
            "A baby dinosaur hatches in a suburban garden and the neighbourhood kids keep it hidden.",
            "Cartoon forest creatures put on a show to save their meadow from a bulldozer.",
        ),
        (
            "children's entertainment",
            "family-friendly viewing",
            "wholesome viewing for toddlers",
            "pictures for youngsters",
        ),
    ),
    Topic(
        "music",
        (
            ("Electric", "Broken", "Velvet", "Rising", "Midnight", "Golden"),
            ("Chords", "Tour", "Ballad", "Encore", "Stage", "Record"),
        ),
        (
            "A garage band from Manchester signs its first record deal and struggles with fame.",
            "The rise and fall of a jazz trumpeter told through his greatest recordings.",
            "A gospel choir prepares for a national singing competition.",
            "Concert footage and backstage interviews from a legendary rock tour.",
            "A piano prodigy's obsession with one concerto threatens her sanity.",
            "A hip-hop producer builds beats in his bedroom and dreams of the big stage.",
        ),
        (
            "musicals and live performances",
            "stories about singers and songwriters",
            "films full of songs",
            "musicians' biopics",
        ),
    ),
    Topic(
        "western",
        (
            ("Dusty", "Outlaw", "High", "Lonesome", "Dead Man's", "Silver"),
            ("Gulch", "Trail", "Ranch", "Saloon", "Frontier", "Rider"),
        ),
        (
            "A gunslinger rides into a dusty frontier town ruled by a corrupt sheriff.",
            "Cattle drivers push a herd across the plains while bandits follow their trail.",
            "A bounty hunter and an outlaw form an uneasy alliance to rob a gold train.",
            "Homesteaders defend their ranch from a railroad baron's hired guns.",
            "A showdown at noon in front of the saloon settles an old debt.",
            "A marshal escorts a prisoner across the desert with a posse in pursuit.",
        ),
        (
            "cowboy pictures",
            "stories of the American west",
            "horses, six-shooters and the prairie",
            "tales of the wild west",
        ),
    ),
    Topic(
        "history",
        (
            ("Royal", "Ancient", "Imperial", "Forgotten", "Golden", "Great"),
            ("Dynasty", "Empire", "Court", "Chronicle", "Queen", "Revolution"),
        ),
        (
            "The intrigues of a Tudor court unfold as a young queen consolidates her power.",
            "A chronicle of the building of the pyramids under a pharaoh's iron rule.",
            "Revolutionaries in eighteenth-century Paris debate the fate of the king.",
            "The last days of the Roman Empire as seen by a senator's scribe.",
            "A Ming dynasty admiral leads a treasure fleet across the Indian Ocean.",
            "Peasants and nobles clash during a medieval uprising over grain taxes.",
        ),
        (
            "period pieces",
            "costume dramas set long ago",
            "stories from bygone eras",
            "films about monarchs and past civilisations",
        ),
    ),
    Topic(
        "technology",
        (
            ("Zero", "Neural", "Digital", "Quantum", "Open", "Deep"),
            ("Code", "Network", "Startup", "Algorithm", "Protocol", "Machine"),
        ),
        (
            "A hacker collective breaks into a bank's servers to expose a money-laundering scheme.",
            "Engineers at a garage startup race to ship their app before the funding runs out.",
            "A chatbot begins to act on its own after a routine software update.",
            "Programmers inside a social network discover how its ranking algorithm shapes elections.",
            "A robotics lab builds an android that learns faster than its creators expected.",
            "The story of the microchip, from silicon wafers to the smartphone in every pocket.",
        ),
        (
            "computers and gadgets",
            "stories about coders",
            "artificial intelligence",
            "the world of tech companies",
        ),
    ),
)

#: Item-side sentences that vary tone and form, shared by all topics (no topic words).
ATTRIBUTES: tuple[str, ...] = (
    "Slow-burning and atmospheric.",
    "Fast-paced and full of twists.",
    "A quiet, character-driven piece.",
    "Shot in striking black and white.",
    "A crowd-pleaser with a big heart.",
    "Gritty, dark and uncompromising.",
    "Bright, warm and easy to watch.",
    "Told in a series of flashbacks.",
    "Ambitious, sprawling and long.",
    "Short, sharp and to the point.",
    "Beautifully photographed on location.",
    "Anchored by a remarkable lead performance.",
)

#: Titles of clickbait items start with one of these.
CLICKBAIT_PREFIXES: tuple[str, ...] = (
    "You Won't Believe",
    "Shocking:",
    "Everyone Is Talking About",
    "The Truth About",
    "Must See:",
)

FIRST_NAMES: tuple[str, ...] = (
    "Maya",
    "Liam",
    "Aisha",
    "Noah",
    "Sofia",
    "Kenji",
    "Elena",
    "Omar",
    "Priya",
    "Lucas",
    "Ingrid",
    "Mateo",
    "Chloe",
    "Tariq",
    "Hannah",
    "Diego",
    "Yuki",
    "Samuel",
    "Fatima",
    "Jonas",
    "Amara",
    "Viktor",
    "Lena",
    "Ravi",
)
OCCUPATIONS: tuple[str, ...] = (
    "nurse",
    "software developer",
    "retired teacher",
    "student",
    "carpenter",
    "accountant",
    "graphic designer",
    "firefighter",
    "librarian",
    "chef",
    "lawyer",
    "farmer",
    "pharmacist",
    "bus driver",
    "architect",
    "journalist",
)
LIKE_TEMPLATES: tuple[str, ...] = (
    "loves {}",
    "really enjoys {}",
    "is a big fan of {}",
    "can't get enough of {}",
)
DISLIKE_TEMPLATES: tuple[str, ...] = ("dislikes {}", "has no patience for {}", "avoids {}", "is bored by {}")
PROSE_DISLIKE_TEMPLATES: tuple[str, ...] = (
    "cannot stand {}",
    "never watches {}",
    "switches off at the first sign of {}",
    "would rather do chores than sit through {}",
)
