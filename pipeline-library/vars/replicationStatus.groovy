// replicationStatus(database: 'orders') → the controller's status: rpoSeconds, rpoMet, rtoMet, compliant, regions, …
def call(Map args) {
    String database = lifeboat.required(args, 'database')
    Map s = lifeboat.request(args, 'GET', "api/v1/status/${database}", null)
    for (Map r in s.regions) {
        echo "lifeboat: ${database} region ${r.region}: RPO ${r.rpoSeconds} s${r.meets ? '' : ' (NOT within the tier)'}"
    }
    return s
}
