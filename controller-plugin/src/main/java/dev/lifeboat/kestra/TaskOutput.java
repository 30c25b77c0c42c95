package dev.lifeboat.kestra;

import io.kestra.core.models.tasks.Output;

/** What the tasks' and the trigger's outputs are to Kestra (their classes are all called Output, as Kestra's are). */
interface TaskOutput extends Output {}
